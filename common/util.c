/* SPDX-License-Identifier: Apache-2.0 */
/* Host-side utilities; see util.h. */
#include "common/util.h"

#include <errno.h>
#include <math.h>
#include <fcntl.h>
#include <ftw.h>
#include <openssl/evp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/config.h"
#include "common/log.h"

char *avtb_path_join(const char *dir, const char *name)
{
    char *p = NULL;

    if (name[0] == '/' || dir == NULL || dir[0] == '\0')
        return strdup(name);
    if (asprintf(&p, "%s%s%s", dir, dir[strlen(dir) - 1] == '/' ? "" : "/", name) < 0)
        return NULL;
    return p;
}

const char *avtb_datadir(void)
{
    const char *d = getenv("AVTB_DATADIR");

    return d && d[0] ? d : AVTB_DATADIR_DEFAULT;
}

avtb_err avtb_mkdir_p(const char *path, mode_t mode, avtb_error *err)
{
    char buf[4096];
    size_t len = strlen(path);

    if (len == 0 || len >= sizeof(buf))
        return avtb_error_set(err, AVTB_ERR_IO, "bad directory path '%s'", path);
    memcpy(buf, path, len + 1);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, mode) < 0 && errno != EEXIST)
            return avtb_error_errno(err, AVTB_ERR_IO, errno, "cannot create directory %s", buf);
        *p = '/';
    }
    if (mkdir(buf, mode) < 0 && errno != EEXIST)
        return avtb_error_errno(err, AVTB_ERR_IO, errno, "cannot create directory %s", buf);
    return AVTB_OK;
}

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)ftw;
    if (flag == FTW_DP)
        return rmdir(path) < 0 && errno != ENOENT ? -1 : 0;
    return unlink(path) < 0 && errno != ENOENT ? -1 : 0;
}

avtb_err avtb_rm_rf(const char *path, avtb_error *err)
{
    struct stat st;

    if (path == NULL || path[0] == '\0' || strcmp(path, "/") == 0)
        return avtb_error_set(err, AVTB_ERR_INTERNAL, "refusing to remove '%s'", path ? path : "");
    if (lstat(path, &st) < 0)
        return errno == ENOENT ? AVTB_OK
                               : avtb_error_errno(err, AVTB_ERR_IO, errno, "cannot stat %s", path);
    if (nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS) < 0)
        return avtb_error_errno(err, AVTB_ERR_IO, errno, "cannot remove %s", path);
    return AVTB_OK;
}

avtb_err avtb_read_file_tail(const char *path, size_t max, uint8_t **out, size_t *len,
                             avtb_error *err)
{
    struct stat st;
    off_t from;
    uint8_t *buf;
    size_t have = 0;
    int fd;

    *out = NULL;
    *len = 0;
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return avtb_error_errno(err, AVTB_ERR_IO, errno, "cannot open %s", path);
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return avtb_error_set(err, AVTB_ERR_IO, "%s is not a regular file", path);
    }
    from = st.st_size > (off_t)max ? st.st_size - (off_t)max : 0;
    buf = malloc(max + 1);
    if (buf == NULL) {
        close(fd);
        return avtb_error_set(err, AVTB_ERR_NOMEM, "out of memory reading %s", path);
    }
    while (have < max) {
        ssize_t n = pread(fd, buf + have, max - have, from + (off_t)have);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            avtb_err r = avtb_error_errno(err, AVTB_ERR_IO, errno, "cannot read %s", path);

            free(buf);
            close(fd);
            return r;
        }
        if (n == 0)
            break;
        have += (size_t)n;
    }
    close(fd);
    buf[have] = '\0';
    *out = buf;
    *len = have;
    return AVTB_OK;
}

avtb_err avtb_read_file(const char *path, size_t max, uint8_t **out, size_t *len, avtb_error *err)
{
    avtb_err r = AVTB_ERR_IO;
    int fd;
    uint8_t *buf = NULL;
    size_t have = 0, cap = 0;

    *out = NULL;
    *len = 0;
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return avtb_error_errno(err, AVTB_ERR_IO, errno, "cannot open %s", path);
    for (;;) {
        ssize_t n;

        if (cap - have < 4096) {
            size_t ncap = cap ? cap * 2 : 8192;
            uint8_t *nb;

            if (ncap > max + 1)
                ncap = max + 1;
            if (ncap <= have) {
                r = avtb_error_set(err, AVTB_ERR_INPUT, "%s is larger than %zu bytes", path, max);
                goto out;
            }
            nb = realloc(buf, ncap + 1);
            if (nb == NULL) {
                r = avtb_error_set(err, AVTB_ERR_NOMEM, "out of memory reading %s", path);
                goto out;
            }
            buf = nb;
            cap = ncap;
        }
        n = read(fd, buf + have, cap - have);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            r = avtb_error_errno(err, AVTB_ERR_IO, errno, "cannot read %s", path);
            goto out;
        }
        if (n == 0)
            break;
        have += (size_t)n;
        if (have > max) {
            r = avtb_error_set(err, AVTB_ERR_INPUT, "%s is larger than %zu bytes", path, max);
            goto out;
        }
    }
    if (buf == NULL && (buf = malloc(1)) == NULL) {
        r = avtb_error_set(err, AVTB_ERR_NOMEM, "out of memory");
        goto out;
    }
    buf[have] = '\0';
    *out = buf;
    buf = NULL; /* transferred */
    *len = have;
    r = AVTB_OK;
out:
    free(buf);
    close(fd);
    return r;
}

avtb_err avtb_write_file(const char *path, const void *buf, size_t len, mode_t mode,
                         avtb_error *err)
{
    avtb_err r = AVTB_ERR_IO;
    char *tmp = NULL;
    int fd = -1;
    const uint8_t *p = buf;

    if (asprintf(&tmp, "%s.tmp.%d", path, (int)getpid()) < 0)
        return avtb_error_set(err, AVTB_ERR_NOMEM, "out of memory");
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0) {
        r = avtb_error_errno(err, AVTB_ERR_IO, errno, "cannot create %s", tmp);
        goto out;
    }
    while (len > 0) {
        ssize_t n = write(fd, p, len);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            r = avtb_error_errno(err, AVTB_ERR_IO, errno, "cannot write %s", tmp);
            goto out;
        }
        p += n;
        len -= (size_t)n;
    }
    if (fsync(fd) < 0 || close(fd) < 0) {
        fd = -1;
        r = avtb_error_errno(err, AVTB_ERR_IO, errno, "cannot flush %s", tmp);
        goto out;
    }
    fd = -1;
    if (rename(tmp, path) < 0) {
        r = avtb_error_errno(err, AVTB_ERR_IO, errno, "cannot rename %s to %s", tmp, path);
        goto out;
    }
    r = AVTB_OK;
out:
    if (fd >= 0)
        close(fd);
    if (r != AVTB_OK)
        unlink(tmp);
    free(tmp);
    return r;
}

void avtb_hex(const void *buf, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    const unsigned char *p = buf;

    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[p[i] >> 4];
        out[2 * i + 1] = digits[p[i] & 15];
    }
    out[2 * n] = '\0';
}

void avtb_sha256_hex(const void *buf, size_t len, char out[65])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned n = 0;

    EVP_Digest(buf, len, md, &n, EVP_sha256(), NULL);
    avtb_hex(md, n, out);
}

avtb_err avtb_sha256_file(const char *path, char out[65], avtb_error *err)
{
    avtb_err r = AVTB_ERR_IO;
    EVP_MD_CTX *ctx = NULL;
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned n = 0;
    uint8_t buf[65536];
    int fd;

    out[0] = '\0';
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return avtb_error_errno(err, AVTB_ERR_IO, errno, "cannot open %s", path);
    ctx = EVP_MD_CTX_new();
    if (ctx == NULL || !EVP_DigestInit_ex(ctx, EVP_sha256(), NULL)) {
        r = avtb_error_set(err, AVTB_ERR_NOMEM, "cannot start SHA-256");
        goto out;
    }
    for (;;) {
        ssize_t k = read(fd, buf, sizeof(buf));

        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0) {
            r = avtb_error_errno(err, AVTB_ERR_IO, errno, "cannot read %s", path);
            goto out;
        }
        if (k == 0)
            break;
        EVP_DigestUpdate(ctx, buf, (size_t)k);
    }
    EVP_DigestFinal_ex(ctx, md, &n);
    avtb_hex(md, n, out);
    r = AVTB_OK;
out:
    EVP_MD_CTX_free(ctx);
    close(fd);
    return r;
}

static avtb_err spawn(const char *const argv[], unsigned timeout_ms, bool quiet, char **out,
                      int *exit_status, avtb_error *err)
{
    avtb_err r = AVTB_ERR_CHILD;
    int pfd[2] = {-1, -1};
    pid_t pid = -1;
    char *buf = NULL;
    size_t have = 0, cap = 0;
    const size_t max = 1u << 20;
    struct timespec start, now;
    int status = 0;
    bool eof = false;

    if (out)
        *out = NULL;
    *exit_status = -1;
    if (pipe2(pfd, O_CLOEXEC) < 0)
        return avtb_error_errno(err, AVTB_ERR_IO, errno, "pipe");
    pid = fork();
    if (pid < 0) {
        r = avtb_error_errno(err, AVTB_ERR_CHILD, errno, "cannot fork for %s", argv[0]);
        goto out;
    }
    if (pid == 0) {
        int nul = open("/dev/null", O_RDWR);

        if (nul >= 0) {
            dup2(nul, 0);
            if (quiet)
                dup2(nul, 2);
        }
        dup2(pfd[1], 1);
        setpgid(0, 0); /* so a timeout kills the whole helper tree */
        execvp(argv[0], (char *const *)argv);
        fprintf(stderr, "avtb: cannot run %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    setpgid(pid, pid);
    close(pfd[1]);
    pfd[1] = -1;
    clock_gettime(CLOCK_MONOTONIC, &start);
    while (!eof) {
        struct pollfd p = {.fd = pfd[0], .events = POLLIN};
        int wait_ms = -1;
        int pr;

        if (timeout_ms > 0) {
            long el;

            clock_gettime(CLOCK_MONOTONIC, &now);
            el = (now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000;
            if (el >= (long)timeout_ms) {
                kill(-pid, SIGKILL);
                waitpid(pid, &status, 0);
                pid = -1;
                r = avtb_error_set(err, AVTB_ERR_TIMEOUT, "%s did not finish within %u s", argv[0],
                                   timeout_ms / 1000);
                goto out;
            }
            wait_ms = (int)(timeout_ms - (unsigned)el);
        }
        pr = poll(&p, 1, wait_ms);
        if (pr < 0 && errno == EINTR)
            continue;
        if (pr < 0) {
            r = avtb_error_errno(err, AVTB_ERR_IO, errno, "poll");
            goto out;
        }
        if (pr == 0)
            continue;
        if (cap - have < 4096) {
            char *nb = realloc(buf, cap ? cap * 2 : 8192);

            if (nb == NULL) {
                r = avtb_error_set(err, AVTB_ERR_NOMEM, "out of memory");
                goto out;
            }
            buf = nb;
            cap = cap ? cap * 2 : 8192;
        }
        {
            ssize_t n = read(pfd[0], buf + have, cap - have - 1);

            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0)
                eof = true;
            else if (have + (size_t)n <= max)
                have += (size_t)n;
        }
    }
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    pid = -1;
    *exit_status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    if (out) {
        if (buf == NULL && (buf = malloc(1)) == NULL) {
            r = avtb_error_set(err, AVTB_ERR_NOMEM, "out of memory");
            goto out;
        }
        buf[have] = '\0';
        *out = buf;
        buf = NULL; /* transferred */
    }
    r = AVTB_OK;
out:
    if (pid > 0) {
        kill(-pid, SIGKILL);
        waitpid(pid, NULL, 0);
    }
    free(buf);
    if (pfd[0] >= 0)
        close(pfd[0]);
    if (pfd[1] >= 0)
        close(pfd[1]);
    return r;
}

avtb_err avtb_spawn(const char *const argv[], unsigned timeout_ms, char **out, int *exit_status,
                    avtb_error *err)
{
    return spawn(argv, timeout_ms, false, out, exit_status, err);
}

avtb_err avtb_spawn_quiet(const char *const argv[], unsigned timeout_ms, int *exit_status,
                          avtb_error *err)
{
    return spawn(argv, timeout_ms, true, NULL, exit_status, err);
}

bool avtb_utc_format(double t, char buf[32])
{
    struct tm tm;
    time_t sec;
    long long ms;

    buf[0] = '\0';
    if (!isfinite(t) || t < 0 || t > 253402300799.0) /* 9999-12-31T23:59:59 */
        return false;
    ms = (long long)floor(t * 1000.0 + 0.5);
    sec = (time_t)(ms / 1000);
    if (gmtime_r(&sec, &tm) == NULL || strftime(buf, 32, "%Y-%m-%dT%H:%M:%S", &tm) != 19) {
        buf[0] = '\0';
        return false;
    }
    snprintf(buf + 19, 13, ".%03dZ", (int)(ms % 1000));
    return true;
}

void avtb_utc_now(char buf[32])
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    /* Truncated to the millisecond, not rounded: never a time still to come. */
    avtb_utc_format((double)ts.tv_sec + (double)(ts.tv_nsec / 1000000) / 1000.0, buf);
}

static void sleep_ms(unsigned ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

void avtb_wait_status_text(int status, char *buf, size_t len)
{
    if (WIFEXITED(status))
        snprintf(buf, len, "exited with status %d", WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        snprintf(buf, len, "was killed by signal %d (%s)%s", WTERMSIG(status),
                 strsignal(WTERMSIG(status)),
                 WTERMSIG(status) == SIGSYS ? ": the sandbox forbade a system call" : "");
    else
        snprintf(buf, len, "ended with wait status 0x%x", (unsigned)status);
}

int avtb_wait_bounded(pid_t pid, unsigned timeout_ms, int *status)
{
    for (unsigned waited = 0;; waited += 10) {
        pid_t r = waitpid(pid, status, WNOHANG);

        if (r == pid)
            return 1;
        if (r < 0 && errno != EINTR)
            return -1;
        if (waited >= timeout_ms)
            return 0;
        sleep_ms(10);
    }
}
