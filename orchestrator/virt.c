/* SPDX-License-Identifier: Apache-2.0 */
/* libvirt connection, isolated network and transient domain; see virt.h. */
#include "orchestrator/virt.h"

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/util.h"

/*
 * libvirt keepalive: the client pings libvirtd every KEEPALIVE_INTERVAL s
 * without traffic and closes the connection after KEEPALIVE_COUNT pings
 * without an answer, so a libvirtd that stops answering (stopped,
 * deadlocked) fails the call under way after about 30 s instead of blocking
 * avtb forever. libvirtd answers pings from its event loop even while a
 * long call runs, so a busy libvirtd is not mistaken for a stopped one.
 */
#define KEEPALIVE_INTERVAL 5
#define KEEPALIVE_COUNT    5
_Static_assert(KEEPALIVE_INTERVAL * (KEEPALIVE_COUNT + 1) == 30,
               "avtb_virt_lost_why says 30 s");
/* How long a libvirtd that is back gets to answer the reconnection probe. */
#define PROBE_TIMEOUT_MS 5000

struct avtb_virt {
    virConnectPtr conn;
    char *uri;
    unsigned generation;     /* bumped by every reconnection */
    atomic_int close_reason; /* 1 + VIR_CONNECT_CLOSE_REASON_*, 0 while open */
    bool holds_loop;         /* counted in loop.users */
};

/*
 * libvirt's event loop, which keepalive needs: one thread per process,
 * running while any connection is open. It blocks every signal, so SIGINT
 * and SIGTERM still reach (and interrupt) the main thread. It is stopped
 * around every fork (pthread_atfork) and started again in the parent, so no
 * child inherits a lock it held: collectors and the analysis run on after
 * their fork, and under ASan a child forked while another thread held an
 * allocator lock hung for good (orchestrator/PRIVSEP.md).
 */
static struct {
    pthread_mutex_t lock;
    pthread_t thread;
    unsigned users;
    bool registered; /* virEventRegisterDefaultImpl and pthread_atfork done */
    bool running;    /* the thread exists */
    atomic_bool quit;
} loop = {.lock = PTHREAD_MUTEX_INITIALIZER};

static void *loop_main(void *arg)
{
    (void)arg;
    while (!atomic_load(&loop.quit))
        if (virEventRunDefaultImpl() < 0)
            break;
    return NULL;
}

static void loop_wake(int timer, void *opaque)
{
    (void)timer;
    (void)opaque;
}

/* With loop.lock held. */
static void loop_start(void)
{
    sigset_t all, old;

    atomic_store(&loop.quit, false);
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    loop.running = pthread_create(&loop.thread, NULL, loop_main, NULL) == 0;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
}

/* With loop.lock held. */
static void loop_stop(void)
{
    int timer;

    if (!loop.running)
        return;
    atomic_store(&loop.quit, true);
    /* An immediate timer wakes virEventRunDefaultImpl, as virsh does. */
    timer = virEventAddTimeout(0, loop_wake, NULL, NULL);
    pthread_join(loop.thread, NULL);
    if (timer >= 0)
        virEventRemoveTimeout(timer);
    loop.running = false;
}

static void before_fork(void)
{
    pthread_mutex_lock(&loop.lock);
    if (loop.running && !pthread_equal(pthread_self(), loop.thread))
        loop_stop();
}

static void after_fork_parent(void)
{
    if (loop.users > 0 && !loop.running)
        loop_start();
    pthread_mutex_unlock(&loop.lock);
}

/* The child has no event loop and never calls libvirt. */
static void after_fork_child(void)
{
    loop.users = 0;
    loop.running = false;
    pthread_mutex_unlock(&loop.lock);
}

/* True if the event loop runs (it is not fatal if it cannot: no keepalive). */
static bool loop_hold(void)
{
    bool ok;

    pthread_mutex_lock(&loop.lock);
    if (!loop.registered) {
        if (virEventRegisterDefaultImpl() < 0 ||
            pthread_atfork(before_fork, after_fork_parent, after_fork_child) != 0) {
            pthread_mutex_unlock(&loop.lock);
            return false;
        }
        loop.registered = true;
    }
    if (!loop.running)
        loop_start();
    ok = loop.running;
    if (ok)
        loop.users++;
    pthread_mutex_unlock(&loop.lock);
    return ok;
}

static void loop_release(void)
{
    pthread_mutex_lock(&loop.lock);
    if (loop.users > 0 && --loop.users == 0)
        loop_stop();
    pthread_mutex_unlock(&loop.lock);
}

static void on_close(virConnectPtr conn, int reason, void *opaque)
{
    avtb_virt *v = opaque;

    (void)conn;
    atomic_store(&v->close_reason, reason + 1);
}

/* Opens v->uri with keepalive and the close callback; false if it cannot connect. */
static bool connect_to(avtb_virt *v)
{
    v->conn = virConnectOpen(v->uri);
    if (v->conn == NULL)
        return false;
    atomic_store(&v->close_reason, 0);
    if (virConnectRegisterCloseCallback(v->conn, on_close, v, NULL) < 0)
        avtb_debug("libvirt at %s: no close callback: %s", v->uri, virGetLastErrorMessage());
    /* 1: the daemon is too old for keepalive; -1: not a remote driver (test://). */
    if (virConnectSetKeepAlive(v->conn, KEEPALIVE_INTERVAL, KEEPALIVE_COUNT) != 0)
        avtb_debug("libvirt at %s: no keepalive: a libvirtd that stops answering will block avtb",
                   v->uri);
    return true;
}

static void disconnect(avtb_virt *v)
{
    if (v->conn == NULL)
        return;
    virConnectUnregisterCloseCallback(v->conn, on_close);
    virConnectClose(v->conn);
    v->conn = NULL;
}

/* Domains and networks hold their name and connection generation: after
 * libvirtd came back, their handles are stale and they are looked up anew. */
struct avtb_vnet {
    avtb_virt *v;
    unsigned generation;
    virNetworkPtr net;
    char name[32];
    char bridge[16];
    char host_ip[16];
    char guest_ip[16];
    char guest_mac[18];
};

struct avtb_vdom {
    avtb_virt *v;
    unsigned generation;
    virDomainPtr dom;
    char name[64];
};

/* Errors are fetched with virGetLastErrorMessage(); don't let libvirt print them too. */
static void quiet_errors(void *opaque, virErrorPtr e)
{
    (void)opaque;
    (void)e;
}

avtb_err avtb_virt_open(const char *uri, avtb_virt **out, avtb_error *err)
{
    avtb_virt *v;

    *out = NULL;
    if (uri == NULL)
        uri = getenv("AVTB_CONNECT");
    if (uri == NULL || uri[0] == '\0')
        uri = "qemu:///system";
    virSetErrorFunc(NULL, quiet_errors);
    v = calloc(1, sizeof(*v));
    if (v == NULL || (v->uri = strdup(uri)) == NULL) {
        free(v);
        return avtb_error_set(err, AVTB_ERR_NOMEM, "out of memory");
    }
    v->holds_loop = loop_hold();
    if (!v->holds_loop)
        avtb_warn("no libvirt event loop: a libvirtd that stops answering will block avtb");
    if (!connect_to(v)) {
        avtb_error_set(err, AVTB_ERR_LIBVIRT,
                       "cannot connect to libvirt at %s: %s; start a private libvirtd with "
                       "'orchestrator/scripts/avtb-sandbox run -- avtb ...' or pass --connect URI",
                       uri, virGetLastErrorMessage());
        if (v->holds_loop)
            loop_release();
        free(v->uri);
        free(v);
        return AVTB_ERR_LIBVIRT;
    }
    *out = v;
    return AVTB_OK;
}

void avtb_virt_close(avtb_virt *v)
{
    if (v == NULL)
        return;
    disconnect(v);
    if (v->holds_loop)
        loop_release();
    free(v->uri);
    free(v);
}

const char *avtb_virt_uri(const avtb_virt *v)
{
    return v->uri;
}

bool avtb_virt_alive(avtb_virt *v)
{
    return v != NULL && v->conn != NULL && virConnectIsAlive(v->conn) == 1;
}

const char *avtb_virt_lost_why(avtb_virt *v)
{
    switch (v == NULL ? 0 : atomic_load(&v->close_reason) - 1) {
    case VIR_CONNECT_CLOSE_REASON_KEEPALIVE:
        return ": it stopped answering (no keepalive reply for 30 s)";
    case VIR_CONNECT_CLOSE_REASON_EOF:
        return ": it closed the connection";
    case VIR_CONNECT_CLOSE_REASON_ERROR:
        return ": the connection failed";
    default:
        return "";
    }
}

/*
 * Whether libvirtd at uri answers within PROBE_TIMEOUT_MS. virConnectOpen
 * has no time limit, and a stopped libvirtd still accepts connections
 * (the kernel queues them) but never answers: the probe runs in a child
 * that can be killed. Without virsh (status 127) there is no probe.
 */
static bool answers(const char *uri)
{
    const char *argv[] = {"virsh", "--quiet", "--connect", uri, "uri", NULL};
    avtb_error err = {0};
    int status = -1;

    if (avtb_spawn_quiet(argv, PROBE_TIMEOUT_MS, &status, &err) != AVTB_OK)
        return false;
    return status == 0 || status == 127;
}

avtb_err avtb_virt_reconnect(avtb_virt *v, unsigned timeout_ms, avtb_error *err)
{
    struct timespec second = {1, 0};
    double start = avtb_now();

    if (avtb_virt_alive(v))
        return AVTB_OK;
    disconnect(v);
    for (;;) {
        /* A libvirtd that timed out (or came back hung) would block virConnectOpen. */
        if (answers(v->uri) && connect_to(v)) {
            v->generation++;
            avtb_info("reconnected to libvirt at %s after %.0f s", v->uri, avtb_now() - start);
            return AVTB_OK;
        }
        if (avtb_now() - start >= timeout_ms / 1000.0)
            return avtb_error_set(err, AVTB_ERR_LIBVIRT,
                                  "libvirtd at %s did not come back within %u s", v->uri,
                                  timeout_ms / 1000);
        nanosleep(&second, NULL);
    }
}

static void fmt_version(unsigned long ver, char *buf, size_t size)
{
    snprintf(buf, size, "%lu.%lu.%lu", ver / 1000000, ver / 1000 % 1000, ver % 1000);
}

avtb_err avtb_virt_versions(avtb_virt *v, char libvirt[32], char qemu[32], avtb_error *err)
{
    unsigned long lib = 0, hv = 0;

    if (virConnectGetLibVersion(v->conn, &lib) < 0 || virConnectGetVersion(v->conn, &hv) < 0)
        return avtb_error_set(err, AVTB_ERR_LIBVIRT, "cannot read versions from %s: %s", v->uri,
                              virGetLastErrorMessage());
    fmt_version(lib, libvirt, 32);
    fmt_version(hv, qemu, 32);
    return AVTB_OK;
}

avtb_err avtb_virt_describe(avtb_virt *v, char *buf, size_t size, avtb_error *err)
{
    char a[32], b[32];
    avtb_err e = avtb_virt_versions(v, a, b, err);

    if (e == AVTB_OK)
        snprintf(buf, size, "libvirt %s, QEMU %s", a, b);
    return e;
}

bool avtb_virt_has_domain_type(avtb_virt *v, const char *type)
{
    char *caps = virConnectGetCapabilities(v->conn);
    char needle[64];
    bool found;

    if (caps == NULL)
        return false;
    snprintf(needle, sizeof(needle), "<domain type='%s'", type);
    found = strstr(caps, "<arch name='x86_64'>") != NULL && strstr(caps, needle) != NULL;
    free(caps);
    return found;
}

/* Escapes text for XML attribute and element content. Caller frees. */
static char *xml_escape(const char *s)
{
    size_t n = 0;
    char *out, *w;

    for (const char *p = s; *p; p++)
        n += *p == '&' ? 5 : (*p == '<' || *p == '>') ? 4 : (*p == '\'' || *p == '"') ? 6 : 1;
    out = malloc(n + 1);
    if (out == NULL)
        return NULL;
    w = out;
    for (const char *p = s; *p; p++) {
        const char *rep = *p == '&'    ? "&amp;"
                          : *p == '<'  ? "&lt;"
                          : *p == '>'  ? "&gt;"
                          : *p == '\'' ? "&apos;"
                          : *p == '"'  ? "&quot;"
                                       : NULL;

        if (rep) {
            memcpy(w, rep, strlen(rep));
            w += strlen(rep);
        } else {
            *w++ = *p;
        }
    }
    *w = '\0';
    return out;
}

char *avtb_vnet_xml(const char *name, const char *bridge, const char *host_ip)
{
    char *xml = NULL;

    /* No <forward>: isolated. No DNS, no DHCP from libvirt: avtb's sink answers
     * DNS and its own dnsmasq (collectors/dhcp.c) DHCP, both logged. */
    if (asprintf(&xml,
                 "<network>\n"
                 "  <name>%s</name>\n"
                 "  <bridge name='%s' stp='off' delay='0'/>\n"
                 "  <dns enable='no'/>\n"
                 "  <ip address='%s' netmask='255.255.255.0'/>\n"
                 "</network>\n",
                 name, bridge, host_ip) < 0)
        return NULL;
    return xml;
}

avtb_err avtb_vnet_create(avtb_virt *v, const char *tag, avtb_vnet **out, avtb_error *err)
{
    avtb_vnet *n;
    unsigned h = 2166136261u;

    *out = NULL;
    if (strlen(tag) > 10 || strspn(tag, "abcdefghijklmnopqrstuvwxyz0123456789") != strlen(tag))
        return avtb_error_set(err, AVTB_ERR_INTERNAL, "bad network tag '%s'", tag);
    n = calloc(1, sizeof(*n));
    if (n == NULL)
        return avtb_error_set(err, AVTB_ERR_NOMEM, "out of memory");
    snprintf(n->name, sizeof(n->name), "avtb-%s", tag);
    snprintf(n->bridge, sizeof(n->bridge), "avtb%s", tag);
    for (const char *p = tag; *p; p++)
        h = (h ^ (unsigned char)*p) * 16777619u;
    /* A locally administered MAC in QEMU's range, from the tag: one per run. */
    snprintf(n->guest_mac, sizeof(n->guest_mac), "52:54:00:%02x:%02x:%02x", (h >> 16) & 0xff,
             (h >> 8) & 0xff, h & 0xff);
    /* Parallel runs share a libvirtd: start at a subnet derived from the tag, probe onwards. */
    for (unsigned i = 0; i < 16; i++) {
        unsigned subnet = (h + i * 37) % 250 + 2;
        char *xml;

        snprintf(n->host_ip, sizeof(n->host_ip), "10.213.%u.1", subnet);
        snprintf(n->guest_ip, sizeof(n->guest_ip), "10.213.%u.10", subnet);
        xml = avtb_vnet_xml(n->name, n->bridge, n->host_ip);
        if (xml == NULL) {
            free(n);
            return avtb_error_set(err, AVTB_ERR_NOMEM, "out of memory");
        }
        n->net = virNetworkCreateXML(v->conn, xml);
        free(xml);
        if (n->net != NULL) {
            n->v = v;
            n->generation = v->generation;
            *out = n;
            return AVTB_OK;
        }
        avtb_debug("network %s on 10.213.%u.0/24: %s", n->name, subnet, virGetLastErrorMessage());
    }
    avtb_error_set(err, AVTB_ERR_LIBVIRT,
                   "cannot create isolated network %s (tried 16 subnets of 10.213.0.0/16): %s",
                   n->name, virGetLastErrorMessage());
    free(n);
    return AVTB_ERR_LIBVIRT;
}

avtb_err avtb_vnet_destroy(avtb_vnet *n, avtb_error *err)
{
    avtb_err r = AVTB_OK;

    if (n == NULL)
        return AVTB_OK;
    if (n->net != NULL && n->generation != n->v->generation) {
        /* libvirtd restarted: the handle belongs to the dead connection. */
        virNetworkFree(n->net);
        n->net = n->v->conn ? virNetworkLookupByName(n->v->conn, n->name) : NULL;
        if (n->net == NULL && virGetLastErrorCode() != VIR_ERR_NO_NETWORK)
            r = avtb_error_set(err, AVTB_ERR_LIBVIRT, "cannot find network %s again: %s", n->name,
                               virGetLastErrorMessage());
    }
    if (n->net != NULL) {
        if (virNetworkDestroy(n->net) < 0 && virGetLastErrorCode() != VIR_ERR_NO_NETWORK)
            r = avtb_error_set(err, AVTB_ERR_LIBVIRT, "cannot destroy network %s: %s", n->name,
                               virGetLastErrorMessage());
        virNetworkFree(n->net);
    }
    free(n);
    return r;
}

const char *avtb_vnet_name(const avtb_vnet *n)
{
    return n->name;
}

const char *avtb_vnet_bridge(const avtb_vnet *n)
{
    return n->bridge;
}

const char *avtb_vnet_host_ip(const avtb_vnet *n)
{
    return n->host_ip;
}

const char *avtb_vnet_guest_ip(const avtb_vnet *n)
{
    return n->guest_ip;
}

const char *avtb_vnet_guest_mac(const avtb_vnet *n)
{
    return n->guest_mac;
}

unsigned avtb_vnet_prefix(const avtb_vnet *n)
{
    (void)n;
    return 24;
}

char *avtb_vdom_xml(const avtb_vdom_spec *s)
{
    char *xml = NULL;
    char *name = xml_escape(s->name), *kernel = xml_escape(s->kernel),
         *initrd = xml_escape(s->initrd), *cmdline = xml_escape(s->cmdline),
         *disk = xml_escape(s->disk), *console = xml_escape(s->console_log),
         *sock = xml_escape(s->agent_sock), *net = xml_escape(s->network),
         *mac = xml_escape(s->mac ? s->mac : "");
    char *fa = NULL, *fasock = s->fileaccess_sock ? xml_escape(s->fileaccess_sock) : NULL;

    /* The file-access agent's one-way stream has a port of its own, so a
     * flood of file events never delays the command channel. */
    if (fasock != NULL && asprintf(&fa,
                                   "    <channel type='unix'>\n"
                                   "      <source mode='bind' path='%s'/>\n"
                                   "      <target type='virtio' name='org.avtb.fileaccess.0'/>\n"
                                   "    </channel>\n",
                                   fasock) < 0)
        fa = NULL;

    if (name && kernel && initrd && cmdline && disk && console && sock && net && mac &&
        (s->fileaccess_sock == NULL || fa != NULL) &&
        asprintf(&xml,
                 "<domain type='%s'>\n"
                 "  <name>%s</name>\n"
                 "  <memory unit='MiB'>%u</memory>\n"
                 "  <vcpu>1</vcpu>\n"
                 "  <os>\n"
                 "    <type arch='x86_64' machine='pc'>hvm</type>\n"
                 "    <kernel>%s</kernel>\n"
                 "    <initrd>%s</initrd>\n"
                 "    <cmdline>%s</cmdline>\n"
                 "  </os>\n"
                 "  <features><acpi/></features>\n"
                 "  <on_poweroff>destroy</on_poweroff>\n"
                 "  <on_reboot>destroy</on_reboot>\n"
                 "  <on_crash>destroy</on_crash>\n"
                 "  <devices>\n"
                 "    <disk type='file' device='disk'>\n"
                 "      <driver name='qemu' type='qcow2'/>\n"
                 "      <source file='%s'/>\n"
                 "      <target dev='vda' bus='virtio'/>\n"
                 "    </disk>\n"
                 "    <interface type='network'>\n"
                 "      <source network='%s'/>\n"
                 "%s%s%s"
                 "      <model type='virtio'/>\n"
                 "    </interface>\n"
                 "    <serial type='file'>\n"
                 "      <source path='%s'/>\n"
                 "      <target port='0'/>\n"
                 "    </serial>\n"
                 "    <channel type='unix'>\n"
                 "      <source mode='bind' path='%s'/>\n"
                 "      <target type='virtio' name='org.avtb.agent.0'/>\n"
                 "    </channel>\n"
                 "%s"
                 "    <memballoon model='none'/>\n"
                 "  </devices>\n"
                 "</domain>\n",
                 s->kvm ? "kvm" : "qemu", name, s->memory_mib, kernel, initrd, cmdline, disk, net,
                 mac[0] ? "      <mac address='" : "", mac, mac[0] ? "'/>\n" : "", console, sock,
                 fa ? fa : "") < 0)
        xml = NULL;
    free(name);
    free(kernel);
    free(initrd);
    free(cmdline);
    free(disk);
    free(console);
    free(sock);
    free(mac);
    free(net);
    free(fa);
    free(fasock);
    return xml;
}

avtb_err avtb_vdom_start(avtb_virt *v, const avtb_vdom_spec *spec, avtb_vdom **out, avtb_error *err)
{
    avtb_vdom *d;
    char *xml;

    *out = NULL;
    d = calloc(1, sizeof(*d));
    xml = avtb_vdom_xml(spec);
    if (d == NULL || xml == NULL) {
        free(d);
        free(xml);
        return avtb_error_set(err, AVTB_ERR_NOMEM, "out of memory");
    }
    d->dom = virDomainCreateXML(v->conn, xml, VIR_DOMAIN_START_AUTODESTROY);
    free(xml);
    if (d->dom == NULL) {
        free(d);
        return avtb_error_set(err, AVTB_ERR_LIBVIRT, "cannot start domain %s on %s: %s", spec->name,
                              v->uri, virGetLastErrorMessage());
    }
    d->v = v;
    d->generation = v->generation;
    snprintf(d->name, sizeof(d->name), "%s", spec->name);
    *out = d;
    return AVTB_OK;
}

bool avtb_vdom_running(avtb_vdom *d)
{
    int state = 0, reason = 0;

    if (d == NULL || d->dom == NULL || d->generation != d->v->generation)
        return false;
    if (virDomainGetState(d->dom, &state, &reason, 0) < 0)
        return false; /* transient and gone */
    return state != VIR_DOMAIN_SHUTOFF && state != VIR_DOMAIN_CRASHED &&
           state != VIR_DOMAIN_NOSTATE;
}

int avtb_vdom_kill_orphan(const char *name)
{
    char needle[96], path[64], buf[4096];
    struct dirent *e;
    DIR *proc = opendir("/proc");
    int killed = 0;

    if (proc == NULL)
        return 0;
    /* libvirt starts QEMU with "-name guest=NAME,debug-threads=on". */
    snprintf(needle, sizeof(needle), "guest=%s,", name);
    while ((e = readdir(proc)) != NULL) {
        pid_t pid = (pid_t)strtol(e->d_name, NULL, 10);
        ssize_t n;
        int fd;

        if (pid <= 0)
            continue;
        snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            continue;
        n = read(fd, buf, sizeof(buf) - 1);
        close(fd);
        if (n <= 0)
            continue;
        for (ssize_t i = 0; i < n; i++)
            if (buf[i] == '\0')
                buf[i] = ' ';
        buf[n] = '\0';
        if (strstr(buf, "qemu-system") != NULL && strstr(buf, needle) != NULL &&
            kill(pid, SIGKILL) == 0) {
            avtb_warn("killed QEMU process %d of domain %s: libvirtd is gone", (int)pid, name);
            killed++;
        }
    }
    closedir(proc);
    return killed;
}

const char *avtb_vdom_name(const avtb_vdom *d)
{
    return d->name;
}

avtb_err avtb_vdom_destroy(avtb_vdom *d, avtb_error *err)
{
    avtb_err r = AVTB_OK;

    if (d == NULL)
        return AVTB_OK;
    if (d->dom != NULL && d->generation != d->v->generation) {
        /* libvirtd restarted and took the QEMU process over: destroy it by name. */
        virDomainFree(d->dom);
        d->dom = d->v->conn ? virDomainLookupByName(d->v->conn, d->name) : NULL;
        d->generation = d->v->generation;
        if (d->dom == NULL && virGetLastErrorCode() != VIR_ERR_NO_DOMAIN)
            r = avtb_error_set(err, AVTB_ERR_LIBVIRT, "cannot find domain %s again: %s", d->name,
                               virGetLastErrorMessage());
    }
    if (d->dom != NULL) {
        if (avtb_vdom_running(d) && virDomainDestroy(d->dom) < 0 &&
            virGetLastErrorCode() != VIR_ERR_NO_DOMAIN &&
            virGetLastErrorCode() != VIR_ERR_OPERATION_INVALID)
            r = avtb_error_set(err, AVTB_ERR_LIBVIRT, "cannot destroy domain: %s",
                               virGetLastErrorMessage());
        virDomainFree(d->dom);
    }
    free(d);
    return r;
}
