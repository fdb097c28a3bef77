/* Minimal HIP runtime declarations, written from AMD's public HIP runtime API reference
 * (rocm.docs.amd.com, "Memory Management": hipMalloc, hipMallocManaged, hipFree, hipMemGetInfo;
 * "hipError_t": hipErrorOutOfMemory = 2). Hygon DTK ships the same API. */
#ifndef HCS_VENDOR_HIP_H
#define HCS_VENDOR_HIP_H

#include <stddef.h>

typedef int hipError_t;

enum { hipSuccess = 0, hipErrorInvalidValue = 1, hipErrorOutOfMemory = 2, hipErrorNotInitialized = 3 };

hipError_t hipSetDevice(int device_id);
hipError_t hipGetDevice(int *device_id);
hipError_t hipMalloc(void **ptr, size_t size);
hipError_t hipMallocManaged(void **dev_ptr, size_t size, unsigned int flags);
hipError_t hipFree(void *ptr);
hipError_t hipMemGetInfo(size_t *free, size_t *total);

#endif
