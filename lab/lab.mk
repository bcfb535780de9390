# zplan lab: real OpenZFS in a QEMU guest (see lab/lab.go).
# Included by the top-level Makefile.
#
#   make lab-image   build the guest image into ~/.cache/zplan-lab (root, ~5 min, cached)
#   make lab         build if needed, boot the VM, print how to connect
#   make lab-stop    stop the VM, discarding the guest's changes; while tests
#                    use it, the last of them stops it (FORCE=1: stop now)
#
# ZPLAN_LAB_ZFS=2.1 selects OpenZFS 2.1.11 from bookworm instead of 2.3.

LAB_GO ?= go
LAB_CMD = $(LAB_GO) run ./lab/cmd/zplan-lab

.PHONY: lab lab-stop lab-image lab-status

lab-image:
	$(LAB_CMD) image

lab: lab-image
	$(LAB_CMD) up

lab-stop:
	$(LAB_CMD) down $(if $(FORCE),-f)

lab-status:
	$(LAB_CMD) status
