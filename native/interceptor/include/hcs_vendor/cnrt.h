/* Minimal Cambricon CNRT declarations, written from Cambricon's public CNRT developer guide
 * (cambricon.com/docs, CNRT 6.x "cnrtMalloc", "cnrtFree", "cnrtMemGetInfo", "cnrtGetDevice";
 * cnrtRet_t: cnrtSuccess = 0, cnrtErrorNoMem = 100100 "insufficient MLU device memory"). */
#ifndef HCS_VENDOR_CNRT_H
#define HCS_VENDOR_CNRT_H

#include <stddef.h>

typedef int cnrtRet_t;

enum { cnrtSuccess = 0, cnrtErrorNoMem = 100100 };

cnrtRet_t cnrtSetDevice(int device);
cnrtRet_t cnrtGetDevice(int *device);
cnrtRet_t cnrtMalloc(void **ptr, size_t bytes);
cnrtRet_t cnrtFree(void *ptr);
cnrtRet_t cnrtMemGetInfo(size_t *free, size_t *total);

#endif
