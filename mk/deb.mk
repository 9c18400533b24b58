# mk/deb.mk - Debian packages and the systemd guest that installs them.
#   make deb              p2pbroker, libp2pclient0, libp2pclient-dev, p2pbroker-dkms
#                         into build/deb/*.deb (dpkg-buildpackage -us -uc -b on an
#                         out-of-tree copy under build/deb/src, so the tree stays
#                         clean), then lintian (errors fail; warnings are shown)
#   make vmcheck-systemd  a Debian 12 guest (mmdebstrap, Debian's 6.12 kernel,
#                         systemd as PID 1) installs those .debs as an admin does
#                         and checks them; last line "vmcheck-systemd: N passed, N failed"
# Neither is in CHECK_TARGETS (minutes, root, downloads): .ci/run runs both.
# The version is the project's (P2P_VERSION); debian/changelog must carry it.
DEB_DIR := $(BUILD)/deb
DEB_CHANGELOG_VERSION = $(shell dpkg-parsechangelog -l debian/changelog -S Version 2>/dev/null)

.PHONY: deb vmcheck-systemd
deb:
	@v='$(DEB_CHANGELOG_VERSION)'; \
	if [ "$${v%%-*}" != '$(P2P_VERSION)' ]; then \
		echo "deb: debian/changelog is at '$$v' but the project version is $(P2P_VERSION): add a changelog entry (dch -v $(P2P_VERSION))" >&2; \
		exit 1; fi
	rm -rf $(DEB_DIR)
	mkdir -p $(DEB_DIR)/src/p2pbroker
	git ls-files -z --cached --others --exclude-standard | \
		tar --null -T - -cf - | tar -xf - -C $(DEB_DIR)/src/p2pbroker
	cd $(DEB_DIR)/src/p2pbroker && dpkg-buildpackage -us -uc -b >../build.log 2>&1 || \
		{ tail -n 40 ../build.log; echo "deb: dpkg-buildpackage failed (log: $(DEB_DIR)/src/build.log)" >&2; exit 1; }
	for f in $(DEB_DIR)/src/*.deb; do case $$f in *-dbgsym_*) ;; *) ln -f $$f $(DEB_DIR)/ ;; esac; done
	@echo "deb: built $$(ls $(DEB_DIR)/*.deb | wc -l) packages in $(DEB_DIR)/ (-dbgsym ones stay in $(DEB_DIR)/src)"
	@ls -1 $(DEB_DIR)/*.deb | sed 's/^/  /'
	lintian --fail-on error --info --display-level '>=warning' $(DEB_DIR)/src/*.changes
	@echo "deb: lintian: no errors"

vmcheck-systemd:
	@P2P_DEB_DIR=$(DEB_DIR) tests/systemd-vm/vmcheck-systemd.sh
