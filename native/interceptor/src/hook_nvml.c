/* NVML memory info, so that nvidia-smi and monitoring inside the container show the slice.
 * The device is identified by nvmlDeviceGetIndex: NVML's index, which matches the CUDA
 * ordinal when the container sees only its own devices in PCI order (see README, limits).
 * Signatures from NVIDIA's NVML API reference, "Device Queries". */
#include "hcs.h"
#include "hcs_vendor/nvml.h"

static int nvml_index(nvmlDevice_t device) {
    __typeof__(&nvmlDeviceGetIndex) get =
        (__typeof__(&nvmlDeviceGetIndex))hcs_real(HCS_SYM_nvmlDeviceGetIndex);
    unsigned int index = 0;
    if (get == NULL || get(device, &index) != NVML_SUCCESS)
        return -1;
    return (int)index;
}

/* Rewrites total/free/used in place; `used` becomes total - free of the container's view. */
static void virtualise(nvmlDevice_t device, unsigned long long *total, unsigned long long *free,
                       unsigned long long *used) {
    uint64_t f = *free, t = *total;
    hcs_virtual_info(nvml_index(device), &f, &t);
    if (f == *free && t == *total)
        return;
    *total = t;
    *free = f;
    *used = t - f;
}

HCS_EXPORT nvmlReturn_t nvmlDeviceGetMemoryInfo(nvmlDevice_t device, nvmlMemory_t *memory) {
    HCS_REAL(nvmlDeviceGetMemoryInfo, real, NVML_ERROR_UNINITIALIZED);
    if (!hcs_enter())
        return real(device, memory);
    nvmlReturn_t rc = real(device, memory);
    if (rc == NVML_SUCCESS && memory != NULL)
        virtualise(device, &memory->total, &memory->free, &memory->used);
    hcs_leave();
    return rc;
}

HCS_EXPORT nvmlReturn_t nvmlDeviceGetMemoryInfo_v2(nvmlDevice_t device, nvmlMemory_v2_t *memory) {
    HCS_REAL(nvmlDeviceGetMemoryInfo_v2, real, NVML_ERROR_UNINITIALIZED);
    if (!hcs_enter())
        return real(device, memory);
    nvmlReturn_t rc = real(device, memory);
    if (rc == NVML_SUCCESS && memory != NULL) {
        unsigned long long total = memory->total;
        virtualise(device, &memory->total, &memory->free, &memory->used);
        if (memory->total != total)
            memory->reserved = 0; /* the slice has no driver-reserved part of its own */
    }
    hcs_leave();
    return rc;
}
