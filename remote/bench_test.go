package remote

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/zplan/zplan/remote/internal/sshtest"
)

// benchMiB is the stream size of the throughput benchmarks
// (ZPLAN_BENCH_MIB overrides it).
func benchMiB() int64 {
	if n, err := strconv.ParseInt(os.Getenv("ZPLAN_BENCH_MIB"), 10, 64); err == nil && n > 0 {
		return n
	}
	return 256
}

// opensshArgs runs argv on srv with OpenSSH's client, with the same key,
// known_hosts and cipher as zplan's side of the comparison.
func opensshArgs(srv *sshtest.Server, remote string) []string {
	return []string{"ssh", "-F", "/dev/null", "-T", "-o", "BatchMode=yes",
		"-o", "StrictHostKeyChecking=yes", "-o", "UserKnownHostsFile=" + srv.KnownHostsFile,
		"-o", "IdentitiesOnly=yes", "-i", srv.UserKeyFile, "-c", sshCiphers[0],
		"-p", strconv.Itoa(srv.Port), srv.User + "@" + srv.Host, remote}
}

func mibps(n int64, d time.Duration) float64 { return float64(n) / (1 << 20) / d.Seconds() }

// BenchmarkSSHRead streams N MiB from the same loopback sshd to the
// controller, once through zplan's client and once through OpenSSH's
// ssh(1), and reports both rates and their ratio (zplan/openssh).
func BenchmarkSSHRead(b *testing.B) {
	srv := sshtest.Start(b)
	h := dialTest(b, testConfig(b, srv))
	n := benchMiB() << 20
	gen := fmt.Sprintf("head -c %d /dev/zero", n)
	devnull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		b.Fatal(err)
	}
	defer devnull.Close()
	var tz, to, cz, co time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start, cpu0 := time.Now(), selfCPU()
		var cw countWriter
		if err := h.Run(context.Background(), Cmd{Argv: []string{"sh", "-c", gen}, Stdout: &cw}); err != nil || cw.n != n {
			b.Fatalf("zplan: %d bytes, %v", cw.n, err)
		}
		tz += time.Since(start)
		cz += selfCPU() - cpu0

		start = time.Now()
		args := opensshArgs(srv, gen)
		cmd := exec.Command(args[0], args[1:]...)
		cmd.Stdout = devnull
		var stderr capBuffer
		cmd.Stderr = &stderr
		if err := cmd.Run(); err != nil {
			b.Fatalf("openssh: %v: %s", err, stderr.String())
		}
		to += time.Since(start)
		co += cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	}
	report(b, n, tz, to)
	// The client's own CPU per GiB: what the controller pays, apart from
	// the server, which both share.
	gib := float64(n*int64(b.N)) / (1 << 30)
	b.ReportMetric(cz.Seconds()/gib, "zplan-cpu-s/GiB")
	b.ReportMetric(co.Seconds()/gib, "openssh-cpu-s/GiB")
	b.Logf("client CPU per GiB: zplan %.2fs, openssh %.2fs", cz.Seconds()/gib, co.Seconds()/gib)
}

// BenchmarkSSHRelay relays N MiB from one SSH host to another (the same
// sshd, two connections) with Pipe, and with
// `ssh A 'head …' | ssh B 'cat >/dev/null'`.
func BenchmarkSSHRelay(b *testing.B) {
	srv := sshtest.Start(b)
	cfgA := testConfig(b, srv)
	cfgB := cfgA
	a, c := dialTest(b, cfgA), dialTest(b, cfgB)
	n := benchMiB() << 20
	gen := fmt.Sprintf("head -c %d /dev/zero", n)
	sink := "cat >/dev/null"
	var tz, to time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		var total int64
		err := Pipe(context.Background(), a, []string{"sh", "-c", gen}, c, []string{"sh", "-c", sink}, func(t int64) { total = t })
		if err != nil || total != n {
			b.Fatalf("zplan relay: %d bytes, %v", total, err)
		}
		tz += time.Since(start)

		start = time.Now()
		line := fmt.Sprintf("%s | %s", shellLine(opensshArgs(srv, gen)), shellLine(opensshArgs(srv, sink)))
		if out, err := exec.Command("sh", "-c", line).CombinedOutput(); err != nil {
			b.Fatalf("openssh relay: %v: %s", err, out)
		}
		to += time.Since(start)
	}
	report(b, n, tz, to)
}

// selfCPU is the CPU time this process has used.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func shellLine(argv []string) string {
	s := ""
	for i, w := range argv {
		if i > 0 {
			s += " "
		}
		s += ShellQuote(w)
	}
	return s
}

func report(b *testing.B, n int64, tz, to time.Duration) {
	b.StopTimer()
	rz := mibps(n*int64(b.N), tz)
	ro := mibps(n*int64(b.N), to)
	b.ReportMetric(rz, "zplan-MiB/s")
	b.ReportMetric(ro, "openssh-MiB/s")
	b.ReportMetric(rz/ro, "ratio")
	b.Logf("%d MiB x %d: zplan %.0f MiB/s, openssh %.0f MiB/s, ratio %.2f", n>>20, b.N, rz, ro, rz/ro)
}

type countWriter struct{ n int64 }

func (c *countWriter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }

var _ io.Writer = (*countWriter)(nil)
