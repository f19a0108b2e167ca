package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
)

func writeJSON(w io.Writer, rep *Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(rep)
}

// writeTable prints the report as a human-readable table, cabridge next
// to softIoc.
func writeTable(w io.Writer, rep *Report) error {
	m := rep.Machine
	ref := rep.Reference
	fmt.Fprintf(w, "machine: %d CPUs (%s), %s, kernel %s, %s, %s\n", m.CPUs, m.CPUModel, m.OS, m.Kernel, m.GoVersion, m.Date)
	fmt.Fprintf(w, "server:  %s bench-server -n %d (%s)\n", rep.Server.Binary, rep.Server.N, rep.Server.Note)
	fmt.Fprintf(w, "softIoc: %s\n\n", ref.Source)

	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "measurement\tcabridge\tsoftIoc")
	fmt.Fprintln(tw, "-----------\t--------\t-------")
	for _, c := range rep.Connect {
		refs := "-"
		if c.N == 100000 {
			refs = rate(ref.ConnectsPerS) + "/s"
		}
		switch {
		case c.PerSecond > 0 && c.Seconds >= 0.2: // CPU times tick at 10 ms
			fmt.Fprintf(tw, "search+connect %s PVs\t%s (%s/s; client %.0f%%, server %.0f%% CPU)\t%s\n",
				count(c.N), dur(c.Seconds), rate(c.PerSecond), c.ClientCPU, c.ServerCPU, refs)
		case c.PerSecond > 0:
			fmt.Fprintf(tw, "search+connect %s PVs\t%s (%s/s)\t%s\n",
				count(c.N), dur(c.Seconds), rate(c.PerSecond), refs)
		default:
			fmt.Fprintf(tw, "search+connect %s PVs\tfailed\t%s\n", count(c.N), refs)
		}
	}
	getRef := rate(ref.GetsPerSMin) + "–" + rate(ref.GetsPerSMax) + "/s"
	for _, c := range rep.Connect {
		if len(c.GetRounds) == 0 {
			continue
		}
		errs := ""
		if c.GetErrors > 0 {
			errs = fmt.Sprintf(", %d errors", c.GetErrors)
		}
		var busy float64 // seconds spent in get rounds
		for _, r := range c.GetRounds {
			busy += float64(c.N) / r
		}
		cpu := ""
		if busy >= 0.2 { // CPU times tick at 10 ms
			cpu = fmt.Sprintf(" (client %.0f%%, server %.0f%% CPU)", c.GetClientCPU, c.GetServerCPU)
		}
		fmt.Fprintf(tw, "gets/s, %s in flight (best, median of %d)\t%s/s, %s/s%s%s\t%s\n",
			count(c.N), len(c.GetRounds), rate(c.GetsBest), rate(c.GetsMedian), cpu, errs, getRef)
	}
	if r := rep.Monitor; r != nil {
		fmt.Fprintf(tw, "monitor updates/s (%s counters at 10 Hz, %.0f s)\t%s/s\t%s/s\n",
			count(r.Subscriptions), r.WindowSeconds, rate(r.PerSecond), rate(ref.MonitorPerS))
		fmt.Fprintf(tw, "stamp-to-client latency (median, p99)\t%.2f ms, %.2f ms\t%.1f ms median\n",
			r.LatencyMS.Median, r.LatencyMS.P99, ref.MonitorMedianMS)
		fmt.Fprintf(tw, "  per 10 Hz burst: first update, first-to-last spread (medians)\t%.2f ms, %.2f ms\t-\n",
			r.FirstMS.Median, r.SpreadMS.Median)
		fmt.Fprintf(tw, "server CPU during monitors\t%.1f %% of a core (client %.1f %%)\t%.0f %%\n",
			r.ServerCPU, r.ClientCPU, ref.MonitorCPUPct)
	}
	if r := rep.Put; r != nil {
		fmt.Fprintf(tw, "put-callback round trip (median, p99; %s puts)\t%.3f ms, %.3f ms (%s/s)\t-\n",
			count(r.Puts), r.LatencyMS.Median, r.LatencyMS.P99, rate(r.PerSecond))
	}
	for _, r := range rep.Waveform {
		fmt.Fprintf(tw, "waveform %s x %s (best, median of %d)\t%s MB/s, %s MB/s\t%s MB/s\n",
			r.Type, count(r.Elements), r.Gets, count(int(r.BestMBs)), count(int(r.MedianMB)), count(int(ref.WaveformMBs)))
	}
	mem := rep.Memory
	fmt.Fprintf(tw, "server RSS per PV ((RSS(-n %d) - RSS(-n 0)) / %d)\t%s (%s - %s)\t%s\n",
		rep.Server.N, rep.Server.N, bytesIEC(mem.PerPV), bytesIEC(float64(mem.RSS)), bytesIEC(float64(mem.BaselineRSS)), bytesIEC(ref.RSSPerPVBytes))
	if mem.PerClient != 0 {
		fmt.Fprintf(tw, "server RSS per idle client (%d clients, %d channels each)\t%s\t-\n",
			mem.Clients, mem.ChannelsPerClient, bytesIEC(mem.PerClient))
	}
	fmt.Fprintf(tw, "server RSS at end, peak\t%s, %s\t-\n", bytesIEC(float64(mem.FinalRSS)), bytesIEC(float64(mem.PeakRSS)))
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, e := range rep.Errors {
		fmt.Fprintf(w, "FAILED: %s\n", e)
	}
	return nil
}

// count formats n with thousands separators: 100000 → "100,000".
func count(n int) string {
	s := strconv.Itoa(n)
	neg := strings.HasPrefix(s, "-")
	if neg {
		s = s[1:]
	}
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// rate formats a per-second figure with three significant digits and an
// SI suffix: 377000 → "377 k", 2.5e6 → "2.50 M".
func rate(x float64) string {
	switch {
	case x >= 1e6:
		return sig3(x/1e6) + " M"
	case x >= 1e3:
		return sig3(x/1e3) + " k"
	default:
		return sig3(x)
	}
}

func sig3(x float64) string {
	switch {
	case x >= 100:
		return strconv.FormatFloat(x, 'f', 0, 64)
	case x >= 10:
		return strconv.FormatFloat(x, 'f', 1, 64)
	default:
		return strconv.FormatFloat(x, 'f', 2, 64)
	}
}

// dur formats seconds as ms below 10 s.
func dur(s float64) string {
	if s < 10 {
		return sig3(s*1000) + " ms"
	}
	return sig3(s) + " s"
}

// bytesIEC formats a byte count: 1700 → "1.66 KiB".
func bytesIEC(b float64) string {
	neg := ""
	if b < 0 {
		neg, b = "-", -b
	}
	switch {
	case b >= 1<<30:
		return neg + sig3(b/(1<<30)) + " GiB"
	case b >= 1<<20:
		return neg + sig3(b/(1<<20)) + " MiB"
	case b >= 1<<10:
		return neg + sig3(b/(1<<10)) + " KiB"
	default:
		return neg + strconv.FormatFloat(b, 'f', 0, 64) + " B"
	}
}
