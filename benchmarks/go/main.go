// Command main runs the workloads of BENCHMARKS.md in Go, with the same
// sizes and the same printed figure as gort's benchmarks, so the two can
// be compared in one run on one machine:
//
//	go run benchmarks/go/main.go -workload pingpong
//
// It prints "<workload> <figure> <value>", e.g. "pingpong ns/roundtrip 210.5".
package main

import (
	"flag"
	"fmt"
	"net"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

func pingpong() (string, float64) {
	const n = 1000000
	ping, pong := make(chan int), make(chan int)
	go func() {
		for i := 0; i < n; i++ {
			v := <-ping
			pong <- v
		}
	}()
	t0 := time.Now()
	for i := 0; i < n; i++ {
		ping <- i
		<-pong
	}
	return "ns/roundtrip", float64(time.Since(t0).Nanoseconds()) / n
}

func buffered() (string, float64) {
	const n = 10000000
	c := make(chan int, 128)
	t0 := time.Now()
	go func() {
		for i := 0; i < n; i++ {
			c <- i
		}
		close(c)
	}()
	sum := 0
	for v := range c {
		sum += v
	}
	_ = sum
	return "ns/message", float64(time.Since(t0).Nanoseconds()) / n
}

func selectBench() (string, float64) {
	const n, per = 4000000, 1000000
	var cs [4]chan int
	t0 := time.Now()
	for i := range cs {
		cs[i] = make(chan int)
		go func(c chan int) {
			for i := 0; i < per; i++ {
				c <- i
			}
		}(cs[i])
	}
	sum := 0
	for i := 0; i < n; i++ {
		select {
		case v := <-cs[0]:
			sum += v
		case v := <-cs[1]:
			sum += v
		case v := <-cs[2]:
			sum += v
		case v := <-cs[3]:
			sum += v
		}
	}
	return "ns/message", float64(time.Since(t0).Nanoseconds()) / n
}

func mutex() (string, float64) {
	const n = 10000000
	var mu sync.Mutex
	var wg sync.WaitGroup
	counter := 0
	t0 := time.Now()
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			for i := 0; i < n/4; i++ {
				mu.Lock()
				counter++
				mu.Unlock()
			}
			wg.Done()
		}()
	}
	wg.Wait()
	return "ns/increment", float64(time.Since(t0).Nanoseconds()) / n
}

func spawn() (string, float64) {
	const n = 1000000
	var wg sync.WaitGroup
	t0 := time.Now()
	wg.Add(n)
	for i := 0; i < n; i++ {
		go wg.Done()
	}
	wg.Wait()
	return "ns/goroutine", float64(time.Since(t0).Nanoseconds()) / n
}

func chainedSpawn() (string, float64) {
	const n = 1000000
	done := make(chan struct{})
	var chain func(left int)
	chain = func(left int) {
		if left == 0 {
			close(done)
			return
		}
		go chain(left - 1)
	}
	t0 := time.Now()
	go chain(n - 1)
	<-done
	return "ns/spawn", float64(time.Since(t0).Nanoseconds()) / n
}

func yieldMany() (string, float64) {
	const g, yields = 200, 10000
	var wg sync.WaitGroup
	t0 := time.Now()
	wg.Add(g)
	for i := 0; i < g; i++ {
		go func() {
			for j := 0; j < yields; j++ {
				runtime.Gosched()
			}
			wg.Done()
		}()
	}
	wg.Wait()
	return "ns/yield", float64(time.Since(t0).Nanoseconds()) / (g * yields)
}

// steal: one goroutine spawns 1,000,000 tasks of ~1 us (1,000 rounds of
// xorshift64 on the task index); the others must steal.  Prints ns/task
// and, on a second line, the efficiency (serial time / P) / wall.
func work(i uint64) uint64 {
	x := i*0x9E3779B97F4A7C15 + 1
	for r := 0; r < 1000; r++ {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
	}
	return x
}

var stealEfficiency float64

func steal() (string, float64) {
	const n = 1000000
	out := make([]uint64, n)
	t0 := time.Now()
	var sink uint64
	for i := 0; i < n; i++ {
		sink += work(uint64(i))
	}
	serial := time.Since(t0)
	var wg sync.WaitGroup
	t0 = time.Now()
	wg.Add(n)
	for i := 0; i < n; i++ {
		go func(i int) {
			out[i] = work(uint64(i))
			wg.Done()
		}(i)
	}
	wg.Wait()
	wall := time.Since(t0)
	if out[n-1] != work(n-1) || sink == 42 {
		fmt.Fprintln(os.Stderr, "steal: wrong result")
	}
	stealEfficiency = (float64(serial) / float64(runtime.GOMAXPROCS(0))) / float64(wall)
	return "ns/task", float64(wall.Nanoseconds()) / n
}

// memory: 1,000,000 goroutines parked on one channel receive; resident
// memory growth per goroutine, in bytes.
func residentBytes() float64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	var pages, resident float64
	fmt.Sscan(string(b), &pages, &resident)
	return resident * float64(os.Getpagesize())
}

func memory() (string, float64) {
	const n = 1000000
	c := make(chan int)
	var arrived int64
	var wg sync.WaitGroup
	before := residentBytes()
	wg.Add(n)
	for i := 0; i < n; i++ {
		go func() {
			atomic.AddInt64(&arrived, 1)
			<-c
			wg.Done()
		}()
	}
	for atomic.LoadInt64(&arrived) < n {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(20 * time.Millisecond)
	per := (residentBytes() - before) / n
	close(c)
	wg.Wait()
	return "bytes/goroutine", per
}

// preempt: every P spins in a loop with no calls; another goroutine sleeps
// 1 ms 2,000 times; the worst oversleep, in ms.
func preempt() (string, float64) {
	var stop int32
	var wg sync.WaitGroup
	for i := 0; i < runtime.GOMAXPROCS(0); i++ {
		wg.Add(1)
		go func() {
			for atomic.LoadInt32(&stop) == 0 {
			}
			wg.Done()
		}()
	}
	runtime.Gosched()
	var worst time.Duration
	for i := 0; i < 2000; i++ {
		t0 := time.Now()
		time.Sleep(time.Millisecond)
		if late := time.Since(t0) - time.Millisecond; late > worst {
			worst = late
		}
	}
	atomic.StoreInt32(&stop, 1)
	wg.Wait()
	return "ms/worst-oversleep", float64(worst.Nanoseconds()) / 1e6
}

// echo_server: a Go net echo server for //benchmarks:echo to load, the
// reference for the echo row.  It serves until killed.
func echoServer(addr string) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println("echo_server listening on", ln.Addr())
	for {
		c, err := ln.Accept()
		if err != nil {
			continue
		}
		go func(c net.Conn) {
			defer c.Close()
			buf := make([]byte, 16384)
			for {
				n, err := c.Read(buf)
				if err != nil {
					return
				}
				if _, err := c.Write(buf[:n]); err != nil {
					return
				}
			}
		}(c)
	}
}

func main() {
	workload := flag.String("workload", "pingpong", "pingpong|buffered|select|mutex|spawn|chained_spawn|yield_many|steal|memory|preempt|echo_server")
	addr := flag.String("addr", "127.0.0.1:7001", "echo_server: where to listen")
	flag.Parse()
	if *workload == "echo_server" {
		echoServer(*addr)
		return
	}
	runs := map[string]func() (string, float64){
		"pingpong": pingpong, "buffered": buffered, "select": selectBench, "mutex": mutex,
		"spawn": spawn, "chained_spawn": chainedSpawn, "yield_many": yieldMany, "steal": steal, "memory": memory, "preempt": preempt,
	}
	run, ok := runs[*workload]
	if !ok {
		fmt.Fprintln(os.Stderr, "unknown workload", *workload)
		os.Exit(2)
	}
	if *workload != "memory" { // memory measures a fresh process's growth
		run() // warm-up, as gort's benchmarks run several iterations
	}
	figure, v := run()
	fmt.Printf("%s %s %.1f\n", *workload, figure, v)
	if *workload == "steal" {
		fmt.Printf("steal efficiency %.2f\n", stealEfficiency)
	}
}
