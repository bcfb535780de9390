# A laptop snapshots its home directories every 15 minutes and sends them
# to a NAS over SSH; the NAS keeps a longer history than the laptop.
#
#   zplan plan -config examples/laptop-to-nas.zplan.hcl

variable "pool" {
  default = "rpool"
}

variable "nas" {
  description = "NAS address or ~/.ssh/config alias"
  default     = "nas.example.org"
}

host "laptop" {}

host "nas" {
  address        = var.nas
  user           = "zplan"
  identity_files = ["~/.ssh/id_ed25519"]
  known_hosts    = ["~/.ssh/known_hosts"]
  command_prefix = ["sudo", "-n"]
}

snapshots "home" {
  host     = host.laptop
  datasets = ["${var.pool}/home/**", "${var.pool}/ROOT/ubuntu"]
  exclude  = ["${var.pool}/home/alice/cache/**"]
  prefix   = "zplan_"
  every    = "15m"
  # No new snapshot while nothing was written since the newest one.
  skip_unchanged = true

  retention {
    grid          = "1x1h(keep=all) | 24x1h | 14x1d"
    keep_last     = 4
    keep_matching = ["^manual_", "^before-upgrade"]
    # While the NAS is blocked, keep what it has not received for two
    # weeks at most; its cursor bookmark keeps the incremental chain.
    keep_unsent_for = "14d"
  }
}

# Weekly snapshot of the whole root, taken Sunday night (UTC).
snapshots "weekly" {
  host     = host.laptop
  datasets = ["${var.pool}/ROOT/ubuntu"]
  prefix   = "weekly_"
  cron     = "0 3 * * sun"

  retention {
    keep_last = 8
  }
}

replication "offsite" {
  id = "laptop-offsite"

  source {
    snapshots = snapshots.home
  }

  target {
    host         = host.nas
    root         = "tank/backup/laptop"
    strip_prefix = var.pool

    retention {
      grid          = "24x1h | 30x1d | 12x30d"
      keep_matching = ["^manual_"]
    }
  }

  initial       = "most_recent"
  raw           = "auto"
  allow_decrypt = false
  on_divergence = "refuse"

  send {
    large_blocks = true
    compressed   = true
    # Leave room on the uplink; hold up to 64 MiB while the NAS is busy.
    bandwidth = "20MiB/s"
    buffer    = "64MiB"
  }
}
