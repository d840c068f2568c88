#ifndef TELEMETRY_CLEVELDB_ENV_H
#define TELEMETRY_CLEVELDB_ENV_H

// leveldb/c.h's options type, declared here rather than included so that this module and
// CLevelDB do not both own the LevelDB C API.
struct leveldb_options_t;

#ifdef __cplusplus
extern "C" {
#endif

/// Makes a database opened with `options` read its table files with pread(2) instead of
/// mmap(2). LevelDB's default POSIX environment maps up to 1000 table files into the
/// process; every page a compaction or scan touches then counts in the process's resident
/// memory until the file is deleted (docs/BENCHMARKS.md, "Memory"). Read with pread, table
/// data lives only in the kernel's page cache and in the block cache, which is bounded.
/// Everything else (writes, locks, the background thread) is LevelDB's default environment.
void telemetry_leveldb_options_use_pread(struct leveldb_options_t *options);

#ifdef __cplusplus
}
#endif

#endif
