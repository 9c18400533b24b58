// SPDX-License-Identifier: MIT
/*
 * names.c - names from libpci's pci_lookup_name(), loaded on first use.
 */
#include "names.h"

#include <pci/pci.h>
#include <stdbool.h>
#include <stdio.h>

static struct pci_access *pacc;

/* libpci reports a malformed pci.ids through a->warning: names are for
 * humans and optional, so a bad database costs names, not output. */
static void names_quiet(char *msg, ...)
{
	(void)msg;
}

static struct pci_access *names_access(void)
{
	if (!pacc) {
		pacc = pci_alloc(); /* no pci_init(): only the name database is used */
		if (pacc) {
			pacc->warning = names_quiet;
			pacc->debug = names_quiet;
		}
	}
	return pacc;
}

const char *names_device(char *buf, size_t size, uint16_t vendor, uint16_t device)
{
	struct pci_access *a = names_access();
	const char *n = a ? pci_lookup_name(a, buf, (int)size,
					    PCI_LOOKUP_VENDOR | PCI_LOOKUP_DEVICE, vendor, device)
			  : NULL;
	if (!n)
		snprintf(buf, size, "Device %04x:%04x", vendor, device);
	else if (n != buf)
		snprintf(buf, size, "%s", n);
	return buf;
}

const char *names_class(char *buf, size_t size, uint32_t class_code)
{
	struct pci_access *a = class_code == UINT32_MAX ? NULL : names_access();
	const char *n =
	    a ? pci_lookup_name(a, buf, (int)size, PCI_LOOKUP_CLASS, (int)(class_code >> 8)) : NULL;
	if (!n)
		buf[0] = '\0';
	else if (n != buf)
		snprintf(buf, size, "%s", n);
	return buf;
}

void names_free(void)
{
	if (pacc)
		pci_cleanup(pacc);
	pacc = NULL;
}
