/* Fake libnvidia-ml.so.1: two devices of HCS_STUB_VRAM bytes; handles are index + 1. The v2
 * structure reports 1 MiB as driver-reserved, as real drivers report some. */
#include "hcs_vendor/nvml.h"
#include "stub_device.h"

nvmlReturn_t nvmlInit_v2(void) { return NVML_SUCCESS; }

nvmlReturn_t nvmlDeviceGetHandleByIndex_v2(unsigned int index, nvmlDevice_t *device) {
    if (index >= STUB_DEVICES)
        return NVML_ERROR_INVALID_ARGUMENT;
    *device = (nvmlDevice_t)(uintptr_t)(index + 1);
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetIndex(nvmlDevice_t device, unsigned int *index) {
    *index = (unsigned int)((uintptr_t)device - 1);
    return *index < STUB_DEVICES ? NVML_SUCCESS : NVML_ERROR_INVALID_ARGUMENT;
}

nvmlReturn_t nvmlDeviceGetMemoryInfo(nvmlDevice_t device, nvmlMemory_t *memory) {
    unsigned int index;
    if (nvmlDeviceGetIndex(device, &index) != NVML_SUCCESS)
        return NVML_ERROR_INVALID_ARGUMENT;
    memory->total = stub_total();
    memory->used = 0;
    memory->free = memory->total;
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetMemoryInfo_v2(nvmlDevice_t device, nvmlMemory_v2_t *memory) {
    unsigned int index;
    if (nvmlDeviceGetIndex(device, &index) != NVML_SUCCESS || memory->version == 0)
        return NVML_ERROR_INVALID_ARGUMENT;
    memory->total = stub_total();
    memory->reserved = 1 << 20;
    memory->used = 0;
    memory->free = memory->total - memory->reserved;
    return NVML_SUCCESS;
}
