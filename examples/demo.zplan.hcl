# Lab demo: two hosts reached over SSH (the same QEMU guest under two
# names, or two guests), snapshots on the source pool every 5 minutes and
# replication to the destination pool with its own retention.
#
#   zplan validate -config examples/demo.zplan.hcl
#   zplan plan -config examples/demo.zplan.hcl -var lab_port=2222
#
# Every setting that depends on the lab is a variable; override with
# -var name=value or ZPLAN_VAR_name=value.

variable "lab_address" {
  description = "address of the lab guest"
  default     = "127.0.0.1"
}

variable "lab_port" {
  description = "SSH port forwarded to the lab guest"
  default     = 2222
}

variable "lab_user" {
  default = "root"
}

variable "lab_identity" {
  default = "~/.cache/zplan-lab/id_ed25519"
}

variable "lab_known_hosts" {
  default = "~/.cache/zplan-lab/known_hosts"
}

variable "src_pool" {
  default = "srcpool"
}

variable "dst_pool" {
  default = "dstpool"
}

locals {
  # The lab guest runs under emulation; a loaded guest has taken over 20s
  # to finish an SSH handshake.
  ssh_timeout = "60s"
}

host "src" {
  address         = var.lab_address
  port            = var.lab_port
  user            = var.lab_user
  identity_files  = [var.lab_identity]
  agent           = false
  known_hosts     = [var.lab_known_hosts]
  connect_timeout = local.ssh_timeout
}

host "dst" {
  address         = var.lab_address
  port            = var.lab_port
  user            = var.lab_user
  identity_files  = [var.lab_identity]
  agent           = false
  known_hosts     = [var.lab_known_hosts]
  connect_timeout = local.ssh_timeout
}

snapshots "data" {
  host     = host.src
  datasets = ["${var.src_pool}/data/**"]
  exclude  = ["${var.src_pool}/data/scratch/**"]
  every    = "5m"

  retention {
    grid          = "1x1h(keep=all) | 24x1h | 7x1d"
    keep_matching = ["^manual_"]
  }
}

replication "backup" {
  source {
    snapshots = snapshots.data
  }

  target {
    host = host.dst
    root = "${var.dst_pool}/backup"

    retention {
      grid = "1x1h(keep=all) | 48x1h | 30x1d"
    }
  }
}
