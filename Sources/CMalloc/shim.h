#ifndef TELEMETRY_CMALLOC_SHIM_H
#define TELEMETRY_CMALLOC_SHIM_H
#include <malloc.h>
#endif
