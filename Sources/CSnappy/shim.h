#ifndef TELEMETRY_CSNAPPY_SHIM_H
#define TELEMETRY_CSNAPPY_SHIM_H
#include <snappy-c.h>
#endif
