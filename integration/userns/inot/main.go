// Command inot opens inotify instances for integration/userns: inot N
// SECONDS opens up to N, prints how many it got and the first error, and
// holds them for SECONDS.
package main

import (
	"fmt"
	"os"
	"strconv"
	"syscall"
	"time"
)

func main() {
	n, _ := strconv.Atoi(os.Args[1])
	hold, _ := strconv.Atoi(os.Args[2])
	got := 0
	var first error
	for i := 0; i < n; i++ {
		if _, err := syscall.InotifyInit(); err != nil {
			first = err
			break
		}
		got++
	}
	fmt.Println("inotify instances:", got, "error:", first)
	time.Sleep(time.Duration(hold) * time.Second)
}
