# zplan's configuration, installed by the Debian package as
# /etc/zplan/main.zplan.hcl (a conffile: upgrades keep your edits).
# zplan-apply.timer runs
#
#   zplan apply -chdir /etc/zplan -auto-approve -lock-timeout 10m
#
# every 15 minutes once enabled (systemctl enable --now zplan-apply.timer),
# reading every *.hcl file in /etc/zplan. Edit this file, then check it:
#
#   zplan validate -chdir /etc/zplan
#   zplan plan -chdir /etc/zplan
#
# Variables can also be set without editing, as ZPLAN_VAR_name=value lines
# in /etc/default/zplan (read by both services), or with -var name=value.

variable "pool" {
  description = "local pool whose data/ datasets get snapshots"
  default     = "tank"
}

variable "backup_host" {
  description = "address or /root/.ssh/config alias of the backup host"
  default     = "backup.example.org"
}

variable "backup_root" {
  description = "dataset on the backup host that receives the replicas"
  default     = "backup/tank"
}

# No address: zfs runs on this machine, as the service's user (root).
host "local" {}

host "backup" {
  address        = var.backup_host
  user           = "zplan"
  identity_files = ["/root/.ssh/id_ed25519"]
  known_hosts    = ["/root/.ssh/known_hosts"]
  command_prefix = ["sudo", "-n"]
}

snapshots "data" {
  host     = host.local
  datasets = ["${var.pool}/data/**"] # tank/data and everything below it
  every    = "15m"                   # :00, :15, :30, :45 UTC, as the timer runs

  retention {
    grid          = "1x1h(keep=all) | 24x1h | 14x1d"
    keep_matching = ["^manual_"]
  }
}

replication "backup" {
  source {
    snapshots = snapshots.data
  }

  target {
    host = host.backup
    root = var.backup_root # tank/data/x -> backup/tank/data/x

    retention {
      grid = "24x1h | 30x1d | 12x30d"
    }
  }
}
