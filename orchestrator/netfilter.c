/* SPDX-License-Identifier: Apache-2.0 */
/*
 * nftables rules of a run: see netfilter.h. The rules are text in nft's own
 * language, loaded with libnftables in one transaction, so a lab engineer
 * can read exactly what avtb installs (`nft list table inet avtb_<tag>`).
 */
#include <errno.h>
#include <fcntl.h>
#include <nftables/libnftables.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/util.h"
#include "orchestrator/netfilter.h"

static bool tag_ok(const char *tag)
{
    size_t n = strlen(tag);

    return n >= 1 && n <= 10 && strspn(tag, "abcdefghijklmnopqrstuvwxyz0123456789") == n;
}

static bool ifname_ok(const char *s)
{
    size_t n = strlen(s);

    return n >= 1 && n < 16 &&
           strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.") == n;
}

static bool ipv4_ok(const char *s)
{
    return strlen(s) < 16 && strspn(s, "0123456789.") == strlen(s);
}

char *avtb_nft_ruleset(const avtb_nft_spec *s)
{
    char *out = NULL;

    if (!tag_ok(s->tag) || !ifname_ok(s->bridge) || !ipv4_ok(s->sink_ip))
        return NULL;
    /*
     * ingress: IPv6 from the guest is dropped as the bridge receives it,
     *      after the capture has seen it (packet taps come first) and before
     *      the IPv6 stack, which on a bridge libvirt made without IPv6 would
     *      drop it uncounted.
     * nat: DHCP is left alone (dnsmasq answers it); DNS to any resolver goes
     *      to the sink's DNS; every other TCP/UDP port to the sink's
     *      catch-all, which reads the original destination back from
     *      conntrack (SO_ORIGINAL_DST); ICMP is answered by the bridge address.
     * forward: nothing from or to the bridge leaves, even on a host that
     *      forwards; the counters are evidence.
     */
    if (asprintf(&out,
                 "table inet avtb_%s {\n"
                 "  chain ingress_ {\n"
                 "    type filter hook ingress device \"%s\" priority -500; policy accept;\n"
                 "    meta protocol ip6 counter drop comment \"guest IPv6\"\n"
                 "  }\n"
                 "  chain nat_pre {\n"
                 "    type nat hook prerouting priority dstnat; policy accept;\n"
                 "    iifname \"%s\" udp dport { 67, 68 } accept comment \"DHCP\"\n"
                 "    iifname \"%s\" meta l4proto { tcp, udp } th dport 53 counter "
                 "redirect to :%u comment \"DNS\"\n"
                 "    iifname \"%s\" meta l4proto tcp counter redirect to :%u comment \"TCP\"\n"
                 "    iifname \"%s\" meta l4proto udp counter redirect to :%u comment \"UDP\"\n"
                 "    iifname \"%s\" meta l4proto icmp counter dnat ip to %s comment \"ICMP\"\n"
                 "  }\n"
                 "  chain forward_ {\n"
                 "    type filter hook forward priority filter; policy accept;\n"
                 "    iifname \"%s\" counter drop comment \"from guest\"\n"
                 "    oifname \"%s\" counter drop comment \"to guest\"\n"
                 "  }\n"
                 "}\n",
                 s->tag, s->bridge, s->bridge, s->bridge, s->dns_port, s->bridge, s->tcp_port,
                 s->bridge, s->udp_port, s->bridge, s->sink_ip, s->bridge, s->bridge) < 0)
        return NULL;
    return out;
}

/* Runs cmd; on failure, err names what and carries nft's first error line. */
static avtb_err nft_run(struct nft_ctx *ctx, const char *cmd, const char *what, avtb_error *err)
{
    const char *msg;
    char line[512];
    size_t n;

    if (nft_run_cmd_from_buffer(ctx, cmd) == 0)
        return AVTB_OK;
    msg = nft_ctx_get_error_buffer(ctx);
    msg = msg ? msg : "";
    n = strcspn(msg, "\n");
    snprintf(line, sizeof(line), "%.*s", (int)(n < sizeof(line) ? n : sizeof(line) - 1), msg);
    return avtb_error_set(err, AVTB_ERR_IO,
                          "nftables: cannot %s: %s (avtb needs root, the nf_tables kernel module "
                          "and NAT support: modprobe nf_tables nft_nat nft_redir)",
                          what, line[0] ? line : "no message");
}

static struct nft_ctx *nft_open(void)
{
    struct nft_ctx *ctx = nft_ctx_new(NFT_CTX_DEFAULT);

    if (ctx != NULL && (nft_ctx_buffer_output(ctx) != 0 || nft_ctx_buffer_error(ctx) != 0)) {
        nft_ctx_free(ctx);
        return NULL;
    }
    return ctx;
}

/*
 * With br_netfilter active, the IP hooks run on bridged packets before the
 * bridge device sees them, so the redirection would happen before the
 * capture on the bridge and the capture would show the sink's address in
 * place of the guest's real destinations. In a network namespace of its own
 * avtb turns that off (the sysctls are per namespace); in the host's it
 * refuses rather than change a setting other bridges (Docker's) rely on.
 */
static const char *const brnf_sysctls[] = {
    "/proc/sys/net/bridge/bridge-nf-call-iptables",
    "/proc/sys/net/bridge/bridge-nf-call-ip6tables",
    "/proc/sys/net/bridge/bridge-nf-call-arptables",
};

/* The inode of the initial network namespace on kernels that fix it (PROC_NET_INIT_INO). */
#define NET_INIT_INO 0xEFFFFFF9u

static bool in_initial_netns(void)
{
    struct stat self, init;

    if (stat("/proc/self/ns/net", &self) != 0)
        return true; /* cannot tell: assume the host's, the careful answer */
    if (stat("/proc/1/ns/net", &init) == 0)
        return self.st_ino == init.st_ino && self.st_dev == init.st_dev;
    /* PID 1's namespace is hidden (a container that restricts /proc). */
    return self.st_ino == NET_INIT_INO;
}

/* The first bridge-nf-call sysctl that is on, or NULL. */
static const char *brnf_on(void)
{
    for (size_t i = 0; i < sizeof(brnf_sysctls) / sizeof(brnf_sysctls[0]); i++) {
        char v = '0';
        int fd = open(brnf_sysctls[i], O_RDONLY | O_CLOEXEC);

        if (fd < 0)
            continue; /* no br_netfilter */
        if (read(fd, &v, 1) != 1)
            v = '0';
        close(fd);
        if (v != '0')
            return brnf_sysctls[i];
    }
    return NULL;
}

avtb_nft_brnf avtb_nft_bridge_netfilter(void)
{
    if (brnf_on() == NULL)
        return AVTB_BRNF_OFF;
    return in_initial_netns() ? AVTB_BRNF_REFUSED : AVTB_BRNF_AVTB_TURNS_OFF;
}

static avtb_err bridge_netfilter_off(avtb_error *err)
{
    const char *on = brnf_on();

    if (on == NULL)
        return AVTB_OK;
    if (in_initial_netns())
        return avtb_error_set(
            err, AVTB_ERR_IO,
            "%s is on: bridged packets would be redirected before the capture sees them, "
            "hiding the guest's real destinations; run avtb in its own network namespace "
            "(orchestrator/scripts/avtb-sandbox), where avtb turns it off, or set it to 0",
            on + strlen("/proc/sys/"));
    for (size_t i = 0; i < sizeof(brnf_sysctls) / sizeof(brnf_sysctls[0]); i++) {
        int fd = open(brnf_sysctls[i], O_WRONLY | O_CLOEXEC);
        bool ok;

        if (fd < 0)
            continue;
        ok = write(fd, "0\n", 2) == 2;
        close(fd);
        if (!ok)
            return avtb_error_errno(err, AVTB_ERR_IO, errno, "cannot turn off %s", brnf_sysctls[i]);
    }
    avtb_debug("nftables: turned bridge netfilter off in this network namespace");
    return AVTB_OK;
}

avtb_err avtb_nft_usable(avtb_error *err)
{
    struct nft_ctx *ctx = nft_open();
    avtb_err r;

    if (ctx == NULL)
        return avtb_error_set(err, AVTB_ERR_NOMEM, "nftables: cannot create a context");
    r = nft_run(ctx, "list tables", "list the tables", err);
    nft_ctx_free(ctx);
    return r;
}

avtb_err avtb_nft_install(const avtb_nft_spec *s, avtb_error *err)
{
    avtb_err r = AVTB_ERR_INTERNAL;
    char *rules = avtb_nft_ruleset(s);
    struct nft_ctx *ctx = NULL;

    if (rules == NULL) {
        r = avtb_error_set(err, AVTB_ERR_INTERNAL, "nftables: bad run tag, bridge or address");
        goto out;
    }
    r = bridge_netfilter_off(err);
    if (r != AVTB_OK)
        goto out;
    ctx = nft_open();
    if (ctx == NULL) {
        r = avtb_error_set(err, AVTB_ERR_NOMEM, "nftables: cannot create a context");
        goto out;
    }
    r = nft_run(ctx, rules, "install the run's redirection rules", err);
    if (r == AVTB_OK)
        avtb_debug("nftables: table inet avtb_%s on %s", s->tag, s->bridge);
out:
    if (ctx != NULL)
        nft_ctx_free(ctx);
    free(rules);
    return r;
}

avtb_err avtb_nft_remove(const char *tag, const char *path, avtb_error *err)
{
    avtb_err r = AVTB_ERR_INTERNAL;
    struct nft_ctx *ctx = NULL;
    char cmd[64];
    const char *json;

    if (!tag_ok(tag))
        return avtb_error_set(err, AVTB_ERR_INTERNAL, "nftables: bad run tag '%s'", tag);
    ctx = nft_open();
    if (ctx == NULL) {
        r = avtb_error_set(err, AVTB_ERR_NOMEM, "nftables: cannot create a context");
        goto out;
    }
    nft_ctx_output_set_flags(ctx, NFT_CTX_OUTPUT_JSON);
    snprintf(cmd, sizeof(cmd), "list table inet avtb_%s", tag);
    if (nft_run_cmd_from_buffer(ctx, cmd) != 0) {
        r = AVTB_OK; /* gone already: nothing to record or delete */
        goto out;
    }
    json = nft_ctx_get_output_buffer(ctx);
    r = AVTB_OK;
    if (path != NULL && json != NULL)
        r = avtb_write_file(path, json, strlen(json), 0644, err);
    snprintf(cmd, sizeof(cmd), "delete table inet avtb_%s", tag);
    {
        avtb_error derr = {0};
        avtb_err d = nft_run(ctx, cmd, "delete the run's table", &derr);

        if (d != AVTB_OK) {
            if (r == AVTB_OK && err != NULL)
                *err = derr;
            r = d;
        }
    }
out:
    if (ctx != NULL)
        nft_ctx_free(ctx);
    return r;
}
