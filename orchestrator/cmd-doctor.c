/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `avtb doctor`: can this machine run avtb? Each check says what it found
 * and, when it fails, the command that fixes it.
 */
#include <getopt.h>
#include <guestfs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "common/error.h"
#include "common/log.h"
#include "common/util.h"
#include "orchestrator/accel.h"
#include "orchestrator/cli.h"
#include "orchestrator/image.h"
#include "orchestrator/netfilter.h"
#include "orchestrator/virt.h"

#define MIN_FREE_GIB 4

typedef enum { CHECK_OK, CHECK_WARN, CHECK_FAIL } check_result;

static int failures;

static void report(check_result res, const char *what, const char *detail, const char *fix)
{
    static const char *const tag[] = {"[ ok ]", "[warn]", "[FAIL]"};

    printf("%s %s: %s\n", tag[res], what, detail);
    if (fix != NULL && res != CHECK_OK)
        printf("       fix: %s\n", fix);
    if (res == CHECK_FAIL)
        failures++;
    fflush(stdout);
}

static void check_libvirt(const char *uri)
{
    avtb_virt *v = NULL;
    avtb_error err = {0};
    char desc[128], line[AVTB_ERRMSG_MAX + 256];

    if (avtb_virt_open(uri, &v, &err) != AVTB_OK) {
        report(CHECK_FAIL, "libvirt", err.msg,
               "apt-get install libvirt-daemon-system, then start a private libvirtd: "
               "orchestrator/scripts/avtb-sandbox run -- avtb doctor");
        return;
    }
    if (avtb_virt_describe(v, desc, sizeof(desc), &err) != AVTB_OK)
        snprintf(desc, sizeof(desc), "versions unknown (%.100s)", err.msg);
    snprintf(line, sizeof(line), "reachable at %s (%s)", avtb_virt_uri(v), desc);
    report(CHECK_OK, "libvirt", line, NULL);
    if (avtb_virt_has_domain_type(v, "qemu"))
        report(CHECK_OK, "QEMU via libvirt", "x86_64 guests available", NULL);
    else
        report(CHECK_FAIL, "QEMU via libvirt", "libvirt offers no x86_64 QEMU guests",
               "apt-get install qemu-system-x86, then restart libvirtd");
    avtb_virt_close(v);
}

/* The sandbox network: nftables redirection, br_netfilter, dnsmasq for DHCP. */
static void check_network(void)
{
    avtb_error err = {0};

    if (avtb_nft_usable(&err) == AVTB_OK)
        report(CHECK_OK, "nftables", "usable (each run installs its own table)", NULL);
    else
        report(CHECK_FAIL, "nftables", err.msg,
               "run as root with the nf_tables module; apt-get install nftables");
    switch (avtb_nft_bridge_netfilter()) {
    case AVTB_BRNF_OFF:
        report(CHECK_OK, "bridge netfilter", "off: the capture sees original destinations", NULL);
        break;
    case AVTB_BRNF_AVTB_TURNS_OFF:
        report(CHECK_OK, "bridge netfilter",
               "on in this network namespace; each run turns it off here", NULL);
        break;
    case AVTB_BRNF_REFUSED:
        report(CHECK_FAIL, "bridge netfilter",
               "net.bridge.bridge-nf-call-iptables is on in the host's network namespace: the "
               "redirection would hide the guest's real destinations from the capture",
               "run avtb in its own namespace: orchestrator/scripts/avtb-sandbox run -- avtb ...");
        break;
    }
    if (access("/usr/sbin/dnsmasq", X_OK) == 0)
        report(CHECK_OK, "dnsmasq", "/usr/sbin/dnsmasq (the run's DHCP)", NULL);
    else
        report(CHECK_FAIL, "dnsmasq", "/usr/sbin/dnsmasq is missing",
               "apt-get install dnsmasq-base");
}

static void check_qemu(void)
{
    const char *argv[] = {"qemu-system-x86_64", "--version", NULL};
    char *out = NULL;
    int status = -1;
    avtb_error err = {0};

    if (avtb_spawn(argv, 10000, &out, &status, &err) != AVTB_OK || status != 0) {
        report(CHECK_FAIL, "QEMU", "qemu-system-x86_64 does not run",
               "apt-get install qemu-system-x86 qemu-utils");
    } else {
        out[strcspn(out, "\n")] = '\0';
        report(CHECK_OK, "QEMU", out, NULL);
    }
    free(out);
}

static void check_kvm(void)
{
    const avtb_accel *a = avtb_accel_probe();
    char line[400];

    if (a->kvm) {
        snprintf(line, sizeof(line), "usable (%s); guests run with KVM", a->reason);
        report(CHECK_OK, "KVM", line, NULL);
    } else {
        snprintf(line, sizeof(line), "unusable: %s; guests run under TCG (slower, still correct)",
                 a->reason);
        report(CHECK_WARN, "KVM", line,
               "enable hardware or nested virtualisation on this host for faster runs");
    }
}

static void check_guestfs(void)
{
    const avtb_accel *a = avtb_accel_probe();
    guestfs_h *g = guestfs_create_flags(GUESTFS_CREATE_NO_ENVIRONMENT);
    const char *fix = "apt-get install libguestfs-tools linux-image-amd64; "
                      "debug with: LIBGUESTFS_BACKEND=direct libguestfs-test-tool";
    double t0 = avtb_now();
    char line[600];
    bool ok = false;

    if (g == NULL) {
        report(CHECK_FAIL, "libguestfs", "cannot create a handle", fix);
        return;
    }
    guestfs_set_error_handler(g, NULL, NULL);
    if (guestfs_parse_environment(g) == 0 &&
        (getenv("LIBGUESTFS_BACKEND") != NULL || guestfs_set_backend(g, "direct") == 0) &&
        (a->kvm || getenv("LIBGUESTFS_BACKEND_SETTINGS") != NULL ||
         guestfs_set_backend_setting(g, "force_tcg", "1") == 0) &&
        guestfs_add_drive_scratch(g, 16 << 20, -1) == 0 && guestfs_launch(g) == 0 &&
        guestfs_shutdown(g) == 0)
        ok = true;
    if (ok) {
        snprintf(line, sizeof(line), "appliance launched in %.1f s%s", avtb_now() - t0,
                 a->kvm ? "" : " (force_tcg)");
        report(CHECK_OK, "libguestfs", line, NULL);
    } else {
        snprintf(line, sizeof(line), "the appliance does not launch: %s",
                 guestfs_last_error(g) ? guestfs_last_error(g) : "unknown error");
        report(CHECK_FAIL, "libguestfs", line, fix);
    }
    guestfs_close(g);
}

static void check_space(const char *what, const char *path)
{
    struct statvfs vfs;
    char line[512], fix[512];
    double gib;

    if (statvfs(path, &vfs) < 0) {
        snprintf(line, sizeof(line), "%s does not exist yet; checking its parent", path);
        report(CHECK_OK, what, line, NULL);
        if (statvfs("/", &vfs) < 0)
            return;
    }
    gib = (double)vfs.f_bavail * (double)vfs.f_frsize / (1u << 30);
    snprintf(line, sizeof(line), "%.1f GiB free at %s", gib, path);
    snprintf(fix, sizeof(fix), "free at least %d GiB at %s, or point %s elsewhere", MIN_FREE_GIB,
             path, strcmp(what, "image cache") == 0 ? "AVTB_CACHE" : "--out");
    report(gib >= MIN_FREE_GIB ? CHECK_OK : CHECK_FAIL, what, line, fix);
}

static int doctor_main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"connect", required_argument, NULL, 'c'},
        {"quick", no_argument, NULL, 'Q'},
        {NULL, 0, NULL, 0},
    };
    const char *uri = NULL;
    bool quick = false;
    int c;

    optind = 0; /* 0, not 1: glibc then re-reads the option string (permuting again) */
    while ((c = getopt_long(argc, argv, "c:", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            uri = optarg;
            break;
        case 'Q':
            quick = true;
            break;
        default:
            avtb_cli_usage(&avtb_cmd_doctor, stderr);
            return AVTB_EXIT_USAGE;
        }
    }
    if (optind != argc) {
        avtb_cli_usage(&avtb_cmd_doctor, stderr);
        return AVTB_EXIT_USAGE;
    }
    failures = 0;
    check_libvirt(uri);
    check_qemu();
    check_network();
    check_kvm();
    if (!quick)
        check_guestfs();
    check_space("image cache", avtb_cache_dir());
    check_space("evidence", ".");
    printf("%s\n", failures ? "avtb cannot run here until the failures above are fixed"
                            : "avtb can run here");
    return failures ? AVTB_EXIT_INFRA : AVTB_EXIT_OK;
}

const avtb_cmd avtb_cmd_doctor = {
    .name = "doctor",
    .usage = "[--connect URI] [--quick]",
    .summary = "check libvirt, QEMU, KVM, libguestfs and disk space",
    .help = "  --connect URI  libvirt URI (default $AVTB_CONNECT, else qemu:///system)\n"
            "  --quick        skip the libguestfs appliance launch (about 25 s under TCG)\n\n"
            "KVM is probed for real: a Linux kernel must boot under it within 20 s;\n"
            "otherwise runs use TCG. Exit 0 when avtb can run, 3 otherwise.\n",
    .run = doctor_main,
};
