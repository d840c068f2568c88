// A LevelDB environment that reads table files with pread instead of mmap; see
// include/CLevelDBEnv.h for why.
#include "CLevelDBEnv.h"

#include <leveldb/c.h>
#include <leveldb/env.h>
#include <leveldb/slice.h>
#include <leveldb/status.h>

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <string>
#include <unistd.h>

// leveldb/c.cc (1.23) defines the handle leveldb_options_set_env takes as exactly this:
//   struct leveldb_env_t { Env* rep; bool is_default; };
// c.h only declares it, so a C caller can pass its own. Ours is never destroyed.
struct leveldb_env_t {
    leveldb::Env *rep;
    bool is_default;
};

namespace {

// The error LevelDB's own POSIX environment gives (util/env_posix.cc, PosixError).
leveldb::Status PosixError(const std::string &context, int error_number) {
    if (error_number == ENOENT) {
        return leveldb::Status::NotFound(context, std::strerror(error_number));
    }
    return leveldb::Status::IOError(context, std::strerror(error_number));
}

// A table file read with pread; the descriptor stays open while LevelDB's table cache
// holds the table (at most max_open_files tables).
class PreadRandomAccessFile final : public leveldb::RandomAccessFile {
public:
    PreadRandomAccessFile(std::string filename, int fd) : filename_(std::move(filename)), fd_(fd) {}
    ~PreadRandomAccessFile() override { ::close(fd_); }

    leveldb::Status Read(uint64_t offset, size_t n, leveldb::Slice *result, char *scratch) const override {
        size_t done = 0;
        while (done < n) {
            ssize_t r = ::pread(fd_, scratch + done, n - done, static_cast<off_t>(offset + done));
            if (r < 0) {
                if (errno == EINTR) continue;
                *result = leveldb::Slice(scratch, 0);
                return PosixError(filename_, errno);
            }
            if (r == 0) break;  // end of file: a short read, which LevelDB checks itself
            done += static_cast<size_t>(r);
        }
        *result = leveldb::Slice(scratch, done);
        return leveldb::Status::OK();
    }

private:
    const std::string filename_;
    const int fd_;
};

class PreadEnv final : public leveldb::EnvWrapper {
public:
    PreadEnv() : leveldb::EnvWrapper(leveldb::Env::Default()) {}

    leveldb::Status NewRandomAccessFile(const std::string &filename, leveldb::RandomAccessFile **result) override {
        int fd = ::open(filename.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            *result = nullptr;
            return PosixError(filename, errno);
        }
        *result = new PreadRandomAccessFile(filename, fd);
        return leveldb::Status::OK();
    }
};

}  // namespace

extern "C" void telemetry_leveldb_options_use_pread(struct leveldb_options_t *options) {
    // One environment for the process, like Env::Default(), and never freed for the same
    // reason: databases may use it until the process ends.
    static PreadEnv *env = new PreadEnv();
    static leveldb_env_t handle = {env, true};
    leveldb_options_set_env(options, &handle);
}
