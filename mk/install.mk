# mk/install.mk - make install (Debian layout), DESTDIR/PREFIX.
P2P_VERSION ?= $(shell cat VERSION)

# ---- install (Debian layout) ---------------------------------------------------
#   make install DESTDIR=/tmp/stage PREFIX=/usr
PREFIX ?= /usr
SYSCONFDIR ?= /etc
MULTIARCH := $(shell dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || $(CC) -print-multiarch 2>/dev/null)
LIBDIR ?= $(PREFIX)/lib$(if $(MULTIARCH),/$(MULTIARCH))
UNITDIR ?= $(shell pkg-config --variable=systemdsystemunitdir systemd 2>/dev/null || echo /lib/systemd/system)
SYSUSERSDIR ?= $(PREFIX)/lib/sysusers.d
MANDIR ?= $(PREFIX)/share/man
DOCDIR ?= $(PREFIX)/share/doc/p2pbroker

.PHONY: install
install: all
	install -d $(DESTDIR)$(PREFIX)/sbin $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(LIBDIR)/pkgconfig \
		$(DESTDIR)$(PREFIX)/include $(DESTDIR)$(UNITDIR) $(DESTDIR)$(SYSUSERSDIR) \
		$(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man3 $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man7 \
		$(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(DOCDIR)/examples $(DESTDIR)$(SYSCONFDIR)/p2pd
	install -m 0755 $(BUILD)/p2pd $(DESTDIR)$(PREFIX)/sbin/p2pd
	install -m 0755 $(BUILD)/p2pctl $(DESTDIR)$(PREFIX)/bin/p2pctl
	install -m 0644 $(BUILD)/libp2pclient.so $(DESTDIR)$(LIBDIR)/libp2pclient.so.0
	ln -sf libp2pclient.so.0 $(DESTDIR)$(LIBDIR)/libp2pclient.so
	install -m 0644 libp2pclient/p2pclient.h $(DESTDIR)$(PREFIX)/include/p2pclient.h
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' -e 's|@VERSION@|$(P2P_VERSION)|' \
		libp2pclient/libp2pclient.pc.in >$(DESTDIR)$(LIBDIR)/pkgconfig/libp2pclient.pc
	sed -e 's|/usr/sbin/p2pd|$(PREFIX)/sbin/p2pd|' systemd/p2pd.service \
		>$(DESTDIR)$(UNITDIR)/p2pd.service
	install -m 0644 systemd/p2pd.socket $(DESTDIR)$(UNITDIR)/p2pd.socket
	install -m 0644 systemd/p2pd-metrics.service $(DESTDIR)$(UNITDIR)/p2pd-metrics.service
	install -m 0644 systemd/p2pd-metrics.timer $(DESTDIR)$(UNITDIR)/p2pd-metrics.timer
	install -m 0644 systemd/p2pd.sysusers $(DESTDIR)$(SYSUSERSDIR)/p2pd.conf
	install -m 0644 config/p2pd.json $(DESTDIR)$(DOCDIR)/examples/p2pd.json
	for m in $(wildcard man/*.1); do install -m 0644 $$m $(DESTDIR)$(MANDIR)/man1/; done
	for m in $(wildcard man/*.3); do install -m 0644 $$m $(DESTDIR)$(MANDIR)/man3/; done
	for m in $(wildcard man/*.5); do install -m 0644 $$m $(DESTDIR)$(MANDIR)/man5/; done
	for m in $(wildcard man/*.7); do install -m 0644 $$m $(DESTDIR)$(MANDIR)/man7/; done
	for m in $(wildcard man/*.8); do install -m 0644 $$m $(DESTDIR)$(MANDIR)/man8/; done

