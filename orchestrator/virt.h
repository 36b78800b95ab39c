/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libvirt side of a run: the connection, the run's isolated network and its
 * transient domain. Both are transient (gone once destroyed) and the domain
 * is created with AUTODESTROY, so a crashed avtb cannot leave a guest running
 * behind an open connection.
 */
#ifndef AVTB_VIRT_H
#define AVTB_VIRT_H

#include <stdbool.h>
#include <stddef.h>

#include "common/error.h"

typedef struct avtb_virt avtb_virt;
typedef struct avtb_vnet avtb_vnet;
typedef struct avtb_vdom avtb_vdom;

/*
 * NULL uri: $AVTB_CONNECT, else qemu:///system. The connection has libvirt
 * keepalive (and so an event-loop thread while any is open): a libvirtd
 * that stops answering closes it after about 30 s.
 */
avtb_err avtb_virt_open(const char *uri, avtb_virt **out, avtb_error *err) AVTB_WUR;
void avtb_virt_close(avtb_virt *v);
const char *avtb_virt_uri(const avtb_virt *v);
/* Whether the connection to libvirtd still works (libvirtd may be killed mid-run). */
bool avtb_virt_alive(avtb_virt *v);
/* Why the connection closed, to append to a message (": it stopped answering (...)"); "" if unknown. */
const char *avtb_virt_lost_why(avtb_virt *v);
/*
 * After libvirtd went away: connects again, retrying every second up to
 * timeout_ms (a supervisor restarts libvirtd; it takes its running domains
 * over; a stopped one may continue). Each try first checks, in a child with
 * a time limit, that libvirtd answers. Domains and networks made before are
 * then found again by name.
 */
avtb_err avtb_virt_reconnect(avtb_virt *v, unsigned timeout_ms, avtb_error *err) AVTB_WUR;
/* "libvirt X.Y.Z, QEMU A.B.C" into buf. */
avtb_err avtb_virt_describe(avtb_virt *v, char *buf, size_t size, avtb_error *err) AVTB_WUR;
/* The libvirt library's and the hypervisor's (QEMU's) versions, "9.0.0" and "7.2.0". */
avtb_err avtb_virt_versions(avtb_virt *v, char libvirt[32], char qemu[32], avtb_error *err) AVTB_WUR;
/* True if the hypervisor offers x86_64 guests of the given type ("qemu", "kvm"). */
bool avtb_virt_has_domain_type(avtb_virt *v, const char *type);

/*
 * Creates an isolated network (no forwarding, no DHCP, no libvirt DNS) named
 * avtb-<tag> on bridge avtb<tag> with a free 10.213.N.0/24 subnet: the host
 * side is .1 (the sink), the guest gets .10. tag: up to 10 [a-z0-9] chars.
 */
avtb_err avtb_vnet_create(avtb_virt *v, const char *tag, avtb_vnet **out, avtb_error *err) AVTB_WUR;
/* Destroys (idempotent) and frees; n may be NULL. */
avtb_err avtb_vnet_destroy(avtb_vnet *n, avtb_error *err) AVTB_WUR;
const char *avtb_vnet_name(const avtb_vnet *n);
const char *avtb_vnet_bridge(const avtb_vnet *n);
const char *avtb_vnet_host_ip(const avtb_vnet *n);
const char *avtb_vnet_guest_ip(const avtb_vnet *n);
/* The MAC the guest's NIC gets; the run's DHCP (collectors/dhcp.c) leases it guest_ip. */
const char *avtb_vnet_guest_mac(const avtb_vnet *n);
unsigned avtb_vnet_prefix(const avtb_vnet *n);

typedef struct avtb_vdom_spec {
    const char *name;
    bool kvm;
    unsigned memory_mib;
    const char *kernel, *initrd, *cmdline;
    const char *disk;            /* qcow2 overlay */
    const char *network;         /* libvirt network name */
    const char *console_log;     /* serial console written here */
    const char *agent_sock;      /* virtio-serial channel org.avtb.agent.0, qemu listens */
    const char *fileaccess_sock; /* channel org.avtb.fileaccess.0 (file-access agent), or NULL */
    const char *mac; /* the NIC's MAC (the network's DHCP lease is for it); may be NULL */
} avtb_vdom_spec;

avtb_err avtb_vdom_start(avtb_virt *v, const avtb_vdom_spec *spec, avtb_vdom **out,
                         avtb_error *err) AVTB_WUR;
/* True while the domain exists and is not shut off. */
bool avtb_vdom_running(avtb_vdom *d);
/* Forced stop (idempotent) and free; d may be NULL. */
avtb_err avtb_vdom_destroy(avtb_vdom *d, avtb_error *err) AVTB_WUR;
const char *avtb_vdom_name(const avtb_vdom *d);
/* Last resort when libvirtd does not come back: SIGKILLs the QEMU process of
 * domain `name` (found by its command line). Returns how many it killed. */
int avtb_vdom_kill_orphan(const char *name);

/* Generated XML, exposed for the unit tests. Caller frees. */
char *avtb_vnet_xml(const char *name, const char *bridge, const char *host_ip);
char *avtb_vdom_xml(const avtb_vdom_spec *spec);

#endif
