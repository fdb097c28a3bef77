/* Minimal Ascend ACL runtime declarations, written from Huawei's public CANN AscendCL API
 * reference (hiascend.com, "aclrtMalloc", "aclrtMallocCached", "aclrtFree", "aclrtGetMemInfo",
 * "aclrtMemAttr", "aclError" return codes). */
#ifndef HCS_VENDOR_ACL_H
#define HCS_VENDOR_ACL_H

#include <stddef.h>
#include <stdint.h>

typedef int aclError;
typedef int aclrtMemMallocPolicy;

enum {
    ACL_SUCCESS = 0,
    ACL_ERROR_INVALID_PARAM = 100000,
    ACL_ERROR_RT_MEMORY_ALLOCATION = 207001, /* "memory allocation failure" */
};

/* aclrtMemAttr: 0 = all DDR memory, 1 = all HBM memory; the rest are huge/normal/P2P parts. */
typedef enum { ACL_DDR_MEM = 0, ACL_HBM_MEM = 1, ACL_HBM_MEM_HUGE = 4 } aclrtMemAttr;

aclError aclrtSetDevice(int32_t device_id);
aclError aclrtGetDevice(int32_t *device_id);
aclError aclrtMalloc(void **dev_ptr, size_t size, aclrtMemMallocPolicy policy);
aclError aclrtMallocCached(void **dev_ptr, size_t size, aclrtMemMallocPolicy policy);
aclError aclrtFree(void *dev_ptr);
aclError aclrtGetMemInfo(aclrtMemAttr attr, size_t *free, size_t *total);

#endif
