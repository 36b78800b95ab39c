/* SPDX-License-Identifier: Apache-2.0 */
/* KVM usability probe: CPU flags, /dev/kvm, then a tiny guest with a timeout. */
#include "orchestrator/accel.h"

#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"

#define PROBE_TIMEOUT_MS 20000

static bool cpu_has_virt_flag(void)
{
    FILE *fp = fopen("/proc/cpuinfo", "r");
    char line[4096];
    bool found = false;

    if (fp == NULL)
        return false;
    while (!found && fgets(line, sizeof(line), fp) != NULL)
        if (strncmp(line, "flags", 5) == 0 && (strstr(line, " vmx") || strstr(line, " svm")))
            found = true;
    fclose(fp);
    return found;
}

/* The newest Debian kernel in /boot; the guest image uses the same one. */
static char *find_kernel(void)
{
    glob_t g;
    char *k = NULL;

    if (glob("/boot/vmlinuz-*", 0, NULL, &g) == 0 && g.gl_pathc > 0)
        k = strdup(g.gl_pathv[g.gl_pathc - 1]);
    globfree(&g);
    return k;
}

static bool file_contains(const char *path, const char *needle)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    avtb_error err = {0};
    bool found;

    if (avtb_read_file(path, 4u << 20, &buf, &len, &err) != AVTB_OK)
        return false;
    found = memmem(buf, len, needle, strlen(needle)) != NULL;
    free(buf);
    return found;
}

/*
 * Boots the host's Debian kernel under KVM with no root disk and panic=-1:
 * a working KVM prints the panic and exits in about a second. A real-mode
 * boot sector is not enough: on these machines it completes under KVM while
 * a Linux kernel spins forever without printing a byte.
 */
static void probe_guest(avtb_accel *a)
{
    char dir[] = "/tmp/avtb-kvmprobe-XXXXXX";
    char log[64], serial[96];
    char *kernel = find_kernel();
    int status = -1;
    avtb_error err = {0};

    if (kernel == NULL) {
        snprintf(a->reason, sizeof(a->reason),
                 "no kernel in /boot to probe KVM with (apt-get install linux-image-amd64)");
        return;
    }
    if (mkdtemp(dir) == NULL) {
        snprintf(a->reason, sizeof(a->reason), "cannot create a probe directory: %s",
                 strerror(errno));
        free(kernel);
        return;
    }
    snprintf(log, sizeof(log), "%s/serial.log", dir);
    snprintf(serial, sizeof(serial), "file:%s", log);
    {
        const char *argv[] = {"qemu-system-x86_64",
                              "-accel",
                              "kvm",
                              "-machine",
                              "pc",
                              "-nodefaults",
                              "-display",
                              "none",
                              "-no-reboot",
                              "-m",
                              "128",
                              "-serial",
                              serial,
                              "-kernel",
                              kernel,
                              "-append",
                              "console=ttyS0 panic=-1 loglevel=1",
                              NULL};

        if (avtb_spawn(argv, PROBE_TIMEOUT_MS, NULL, &status, &err) != AVTB_OK)
            snprintf(a->reason, sizeof(a->reason),
                     "a Linux kernel under KVM made no progress within %d s "
                     "(KVM is present but broken)",
                     PROBE_TIMEOUT_MS / 1000);
        else if (status != 0 || !file_contains(log, "Kernel panic"))
            snprintf(a->reason, sizeof(a->reason),
                     "a Linux kernel under KVM did not run to its expected panic "
                     "(qemu exit status %d)",
                     status);
        else {
            a->kvm = true;
            snprintf(a->reason, sizeof(a->reason), "a Linux kernel booted under KVM");
        }
    }
    unlink(log);
    rmdir(dir);
    free(kernel);
}

const avtb_accel *avtb_accel_probe(void)
{
    static avtb_accel a;
    static bool done;
    int fd;

    if (done)
        return &a;
    done = true;
    if (getenv("AVTB_FORCE_TCG") != NULL) {
        snprintf(a.reason, sizeof(a.reason), "AVTB_FORCE_TCG is set");
        return &a;
    }
    if (!cpu_has_virt_flag()) {
        snprintf(a.reason, sizeof(a.reason),
                 "the CPU shows no vmx/svm flag (nested virtualisation is off)");
        return &a;
    }
    fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        snprintf(a.reason, sizeof(a.reason), "/dev/kvm cannot be opened: %s", strerror(errno));
        return &a;
    }
    close(fd);
    probe_guest(&a);
    return &a;
}

const char *avtb_accel_name(const avtb_accel *a)
{
    return a->kvm ? "kvm" : "tcg";
}
