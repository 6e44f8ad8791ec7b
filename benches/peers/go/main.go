// The peers workloads on Go: goroutines, channels, sync.Mutex, net.
// Same command line, sizes and JSON line as the Rust harnesses
// (benches/peers/rust/src/lib.rs describes them):
//
//	peers-go <workload> <workers> [--quick] [--port P]
//
// "workers" is GOMAXPROCS. The main goroutine runs each workload, as the
// Rust harnesses run theirs on a thread of their runtime, except
// os_pingpong, whose pinging side locks main to its OS thread.
package main

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

const (
	batch       = 1000
	mutexProcs  = 1000
	wakerBusy   = 100 * time.Microsecond
	sleeps      = 10
	nap         = time.Millisecond
	runtimeName = "go"
)

var workloads = []string{"spawn_join", "spawn_batch", "yield", "pingpong_rendezvous",
	"pingpong_bounded1", "os_pingpong", "mutex", "idle_memory", "idle_long", "wake_busy", "sleepers", "http"}

type args struct {
	workload string
	workers  int
	quick    bool
	port     int
}

func (a *args) size(full, quick int) int {
	if a.quick {
		return quick
	}
	return full
}

func usage() {
	fmt.Fprintf(os.Stderr, "usage: go <workload> <workers> [--quick] [--port P]\nworkloads: %s\n",
		strings.Join(workloads, " "))
	os.Exit(2)
}

func parse() *args {
	argv := os.Args[1:]
	if len(argv) < 2 {
		usage()
	}
	known := false
	for _, w := range workloads {
		known = known || w == argv[0]
	}
	w, err := strconv.Atoi(argv[1])
	if !known || err != nil || w < 1 {
		usage()
	}
	a := &args{workload: argv[0], workers: w, port: 8080}
	for i := 2; i < len(argv); i++ {
		switch argv[i] {
		case "--quick":
			a.quick = true
		case "--port":
			i++
			if i >= len(argv) {
				usage()
			}
			if a.port, err = strconv.Atoi(argv[i]); err != nil {
				usage()
			}
		default:
			usage()
		}
	}
	return a
}

type metric struct {
	name  string
	value float64
}

func emit(a *args, n int, ms []metric, note string) {
	parts := make([]string, len(ms))
	for i, m := range ms {
		parts[i] = fmt.Sprintf("%q:%.3f", m.name, m.value)
	}
	fmt.Printf("{\"runtime\":%q,\"workload\":%q,\"workers\":%d,\"n\":%d,\"metrics\":{%s},\"note\":%q}\n",
		runtimeName, a.workload, a.workers, n, strings.Join(parts, ","), note)
}

func per(d time.Duration, n int) float64 { return float64(d.Nanoseconds()) / float64(n) }

func rss() int {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		panic(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "VmRSS:") {
			f := strings.Fields(l)
			kb, _ := strconv.Atoi(f[1])
			return kb * 1024
		}
	}
	panic("no VmRSS")
}

func quantile(v []float64, q float64) float64 {
	sort.Float64s(v)
	return v[int(float64(len(v)-1)*q+0.5)]
}

// spawnRound starts n goroutines, all live, then waits for them all.
func spawnRound(n int) time.Duration {
	t := time.Now()
	var wg sync.WaitGroup
	wg.Add(n)
	for i := 0; i < n; i++ {
		go func() { wg.Done() }()
	}
	wg.Wait()
	return time.Since(t)
}

func spawnJoin(a *args) {
	n := a.size(100000, 20000)
	cold := spawnRound(n)
	warm := spawnRound(n)
	emit(a, n, []metric{{"cold", per(cold, n)}, {"warm", per(warm, n)}},
		"ns per goroutine; all n live, then sync.WaitGroup")
}

func spawnBatch(a *args) {
	batches := a.size(100, 20)
	var d time.Duration
	for i := 0; i < batches; i++ {
		d += spawnRound(batch)
	}
	n := batches * batch
	emit(a, n, []metric{{"ns", per(d, n)}}, "ns per goroutine, batches of 1,000")
}

func yield(a *args) {
	perG := a.size(1000000, 200000)
	var ready int32
	out := make(chan time.Duration, 2)
	for g := 0; g < 2; g++ {
		go func() {
			atomic.AddInt32(&ready, 1)
			for atomic.LoadInt32(&ready) < 2 {
				runtime.Gosched()
			}
			t := time.Now()
			for i := 0; i < perG; i++ {
				runtime.Gosched()
			}
			out <- time.Since(t)
		}()
	}
	d := <-out
	if d2 := <-out; d2 > d {
		d = d2
	}
	emit(a, 2*perG, []metric{{"ns", per(d, 2*perG)}}, "ns per runtime.Gosched")
}

// trips runs n round trips through two channels of capacity bound, the
// echo side a goroutine; timed on the calling side.
func trips(n, bound int) time.Duration {
	toB := make(chan int, bound)
	toA := make(chan int, bound)
	done := make(chan struct{})
	go func() {
		for v := range toB {
			toA <- v + 1
		}
		close(done)
	}()
	toB <- 0
	<-toA
	t := time.Now()
	for i := 0; i < n; i++ {
		toB <- i
		if <-toA != i+1 {
			panic("wrong echo")
		}
	}
	d := time.Since(t)
	close(toB)
	<-done
	return d
}

func pingpong(a *args, bound int) {
	n := a.size(200000, 50000)
	d := trips(n, bound)
	emit(a, n, []metric{{"ns", per(d, n)}}, fmt.Sprintf("ns per round trip, make(chan int, %d)", bound))
}

func osPingpong(a *args) {
	n := a.size(50000, 10000)
	runtime.LockOSThread()
	d := trips(n, 0)
	runtime.UnlockOSThread()
	emit(a, n, []metric{{"ns", per(d, n)}}, "ns per round trip, unbuffered chan, main goroutine locked to its OS thread")
}

func mutex(a *args) {
	perG := a.size(1000, 200)
	n := mutexProcs * perG
	var m sync.Mutex
	var counter uint64
	var start int32
	var wg sync.WaitGroup
	wg.Add(mutexProcs)
	for g := 0; g < mutexProcs; g++ {
		go func() {
			for atomic.LoadInt32(&start) == 0 {
				runtime.Gosched()
			}
			for i := 0; i < perG; i++ {
				m.Lock()
				counter++
				m.Unlock()
			}
			wg.Done()
		}()
	}
	t := time.Now()
	atomic.StoreInt32(&start, 1)
	wg.Wait()
	d := time.Since(t)
	if counter != uint64(n) {
		panic("lost increments")
	}
	emit(a, n, []metric{{"ns", per(d, n)}}, "ns per lock, 1,000 goroutines, sync.Mutex")
}

// allParked waits until every goroutine has counted itself on arrived (just
// before its wait), then settle more, as the Rust harnesses do.
func allParked(arrived *sync.WaitGroup, settle time.Duration) {
	arrived.Wait()
	time.Sleep(settle)
}

func idleMemory(a *args) {
	parkedMemory(a, 200*time.Millisecond, "RSS growth per goroutine parked on a channel receive")
}

// idleLong is idle_memory for a long wait: the resident set read 12 s
// after the last goroutine got there (past weave's default compaction
// threshold).
func idleLong(a *args) {
	parkedMemory(a, 12*time.Second, "RSS growth per goroutine parked 12 s in a receive on one channel")
}

// parkedMemory parks goroutines in a receive on one channel that is closed
// afterwards, and reports the resident-set growth per goroutine read
// `settle` after the last one got there.
func parkedMemory(a *args, settle time.Duration, what string) {
	n := a.size(100000, 20000)
	before := rss()
	gate := make(chan struct{})
	var arrived, wg sync.WaitGroup
	arrived.Add(n)
	wg.Add(n)
	for i := 0; i < n; i++ {
		go func() {
			arrived.Done()
			<-gate
			wg.Done()
		}()
	}
	allParked(&arrived, settle)
	after := rss()
	close(gate)
	wg.Wait()
	emit(a, n, []metric{{"bytes", float64(after-before) / float64(n)}}, what)
}

func sleepers(a *args) {
	n := a.size(100000, 20000)
	gate := make(chan struct{})
	var arrived, done sync.WaitGroup
	arrived.Add(n)
	done.Add(n)
	for i := 0; i < n; i++ {
		go func() {
			arrived.Done()
			<-gate
			for s := 0; s < sleeps; s++ {
				time.Sleep(nap)
			}
			done.Done()
		}()
	}
	arrived.Wait()
	t := time.Now()
	close(gate)
	done.Wait()
	wall := time.Since(t)
	emit(a, n, []metric{{"x_ideal", float64(wall) / float64(sleeps*nap)}},
		"wall time from the common start to the last of n goroutines done, each sleeping 10 x 1 ms, over the ideal 10 ms")
}

func wakeBusy(a *args) {
	wakes := a.size(2000, 500)
	ch := make(chan time.Time, 1)
	res := make(chan []float64)
	go func() {
		var v []float64
		for t0 := range ch {
			v = append(v, float64(time.Since(t0).Nanoseconds()))
		}
		res <- v
	}()
	go func() {
		for i := 0; i < wakes; i++ {
			t0 := time.Now()
			ch <- t0
			for time.Since(t0) < wakerBusy {
			}
		}
		close(ch)
	}()
	lat := <-res
	emit(a, wakes, []metric{{"p50", quantile(lat, 0.5)}, {"p90", quantile(lat, 0.9)}},
		"ns from send to the parked receiver running; the sender spins 100 us after each send")
}

var response = []byte("HTTP/1.1 200 OK\r\nContent-Length: 13\r\nContent-Type: text/plain\r\n\r\nHello, world!")
var headEnd = []byte("\r\n\r\n")

// serve is the twin of weave_peers::Hello: one response per complete
// request head, pipelining allowed.
func serve(c net.Conn) {
	defer c.Close()
	c.(*net.TCPConn).SetNoDelay(true)
	buf := make([]byte, 4096)
	var pending, out []byte
	for {
		n, err := c.Read(buf)
		if n == 0 || err != nil {
			return
		}
		pending = append(pending, buf[:n]...)
		out = out[:0]
		for {
			i := bytes.Index(pending, headEnd)
			if i < 0 {
				break
			}
			out = append(out, response...)
			pending = pending[i+4:]
		}
		pending = append(pending[:0:0], pending...)
		if len(out) > 0 {
			if _, err := c.Write(out); err != nil {
				return
			}
		}
	}
}

func httpServe(a *args) {
	var r syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &r) == nil {
		r.Cur = r.Max
		syscall.Setrlimit(syscall.RLIMIT_NOFILE, &r)
	}
	l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", a.port))
	if err != nil {
		panic(err)
	}
	fmt.Printf("{\"listening\":%d}\n", a.port)
	for {
		c, err := l.Accept()
		if err == nil {
			go serve(c)
		}
	}
}

func main() {
	a := parse()
	runtime.GOMAXPROCS(a.workers)
	switch a.workload {
	case "spawn_join":
		spawnJoin(a)
	case "spawn_batch":
		spawnBatch(a)
	case "yield":
		yield(a)
	case "pingpong_rendezvous":
		pingpong(a, 0)
	case "pingpong_bounded1":
		pingpong(a, 1)
	case "os_pingpong":
		osPingpong(a)
	case "mutex":
		mutex(a)
	case "idle_memory":
		idleMemory(a)
	case "idle_long":
		idleLong(a)
	case "wake_busy":
		wakeBusy(a)
	case "sleepers":
		sleepers(a)
	case "http":
		httpServe(a)
	}
}
