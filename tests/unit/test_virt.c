/* SPDX-License-Identifier: Apache-2.0 */
/* Generated libvirt XML and guest scripts: isolation and escaping. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "orchestrator/plant.h"
#include "orchestrator/virt.h"

START_TEST(network_is_isolated)
{
    char *xml = avtb_vnet_xml("avtb-abc", "avtbabc", "10.213.9.1");

    ck_assert_ptr_nonnull(xml);
    ck_assert_ptr_null(strstr(xml, "<forward"));
    /* DHCP is avtb's own dnsmasq (collectors/dhcp.c), DNS the sink's. */
    ck_assert_ptr_null(strstr(xml, "<dhcp"));
    ck_assert_ptr_nonnull(strstr(xml, "<dns enable='no'/>"));
    ck_assert_ptr_nonnull(strstr(xml, "<ip address='10.213.9.1' netmask='255.255.255.0'/>"));
    ck_assert_ptr_nonnull(strstr(xml, "<bridge name='avtbabc'"));
    free(xml);
}
END_TEST

START_TEST(domain_xml_types_and_escaping)
{
    avtb_vdom_spec s = {
        .name = "avtb-x",
        .kvm = false,
        .memory_mib = 256,
        .kernel = "/c/vmlinuz",
        .initrd = "/c/initrd.img",
        .cmdline = "console=ttyS0 a=<b>&'c'",
        .disk = "/w/disk.qcow2",
        .network = "avtb-abc",
        .console_log = "/e/console.log",
        .agent_sock = "/w/agent.sock",
    };
    char *xml = avtb_vdom_xml(&s);

    ck_assert_ptr_nonnull(xml);
    ck_assert_ptr_nonnull(strstr(xml, "<domain type='qemu'>"));
    ck_assert_ptr_nonnull(
        strstr(xml, "<cmdline>console=ttyS0 a=&lt;b&gt;&amp;&apos;c&apos;</cmdline>"));
    ck_assert_ptr_nonnull(strstr(xml, "<source network='avtb-abc'/>"));
    ck_assert_ptr_nonnull(strstr(xml, "<source mode='bind' path='/w/agent.sock'/>"));
    ck_assert_ptr_nonnull(strstr(xml, "name='org.avtb.agent.0'"));
    ck_assert_ptr_nonnull(strstr(xml, "<on_reboot>destroy</on_reboot>"));
    ck_assert_ptr_null(strstr(xml, "<mac "));
    ck_assert_ptr_null(strstr(xml, "org.avtb.fileaccess.0"));
    free(xml);
    s.fileaccess_sock = "/w/fa&.sock";
    xml = avtb_vdom_xml(&s);
    ck_assert_ptr_nonnull(strstr(xml,
                                 "<source mode='bind' path='/w/fa&amp;.sock'/>\n"
                                 "      <target type='virtio' name='org.avtb.fileaccess.0'/>"));
    free(xml);
    s.fileaccess_sock = NULL;
    s.kvm = true;
    s.mac = "52:54:00:aa:bb:cc";
    xml = avtb_vdom_xml(&s);
    ck_assert_ptr_nonnull(strstr(xml, "<domain type='kvm'>"));
    ck_assert_ptr_nonnull(strstr(xml, "<mac address='52:54:00:aa:bb:cc'/>"));
    free(xml);
}
END_TEST

START_TEST(trigger_script_quotes_the_path)
{
    avtb_product p = {.name = (char *)"p", .scan = (char *)"/opt/p/scan --deep {path} {path}"};
    avtb_trigger t = {.at_ms = 5000, .action = AVTB_ACTION_SCAN, .path = (char *)"/home/a b"};
    avtb_scenario sc = {.name = (char *)"s", .product = &p, .triggers = &t, .ntriggers = 1};
    char *script = avtb_plant_trigger_script(&sc, 1);
    char name[32];

    ck_assert_ptr_nonnull(script);
    ck_assert_ptr_nonnull(strstr(script, "#!/bin/sh\n"));
    ck_assert_ptr_nonnull(strstr(script, "\n/opt/p/scan --deep '/home/a b' '/home/a b'\n"));
    avtb_plant_trigger_name(1, name);
    ck_assert_str_eq(name, "trigger-1");
    free(script);
}
END_TEST

static Suite *virt_suite(void)
{
    Suite *s = suite_create("virt");
    TCase *x = tcase_create("xml");
    TCase *p = tcase_create("plant scripts");

    tcase_add_test(x, network_is_isolated);
    tcase_add_test(x, domain_xml_types_and_escaping);
    tcase_add_test(p, trigger_script_quotes_the_path);
    suite_add_tcase(s, x);
    suite_add_tcase(s, p);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(virt_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
