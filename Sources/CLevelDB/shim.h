#ifndef TELEMETRY_CLEVELDB_SHIM_H
#define TELEMETRY_CLEVELDB_SHIM_H
#include <leveldb/c.h>
#endif
