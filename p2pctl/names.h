/* SPDX-License-Identifier: MIT */
/*
 * names.h - vendor, device and class names for humans, as lspci prints them,
 * from libpci's pci_lookup_name() (the pci.ids database).  Nothing is loaded
 * until the first name is asked for: only -v and topo --json (whose
 * "class_name" is names_class()'s, report_set_class_names()) call these, so
 * the plain tree and check/matrix never pay for the database.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* "Red Hat, Inc. Virtio 1.0 network device", or lspci's forms for unknown
 * ids ("Intel Corporation Device 0d57", "Device 1234:5678").  Writes @buf and
 * returns it. */
const char *names_device(char *buf, size_t size, uint16_t vendor, uint16_t device);

/* "Ethernet controller" from a 24-bit class code (class and subclass, as
 * lspci prints it); "" for an unknown class (UINT32_MAX).  Returns @buf. */
const char *names_class(char *buf, size_t size, uint32_t class_code);

/* Free libpci's state (at exit; names_* may be called again afterwards). */
void names_free(void);
