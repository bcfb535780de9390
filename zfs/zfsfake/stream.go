package zfsfake

func (r *run) send(args []string) error { return r.unsupported() }
func (r *run) recv(args []string) error { return r.unsupported() }

type partial struct {
	fromGUID uint64
}

func (p *partial) token() string { return "" }
