package main

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
)

func writeJSON(w io.Writer, rep *Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(rep)
}

// writeTable prints the report as a human-readable table.
func writeTable(w io.Writer, rep *Report) error {
	m := rep.Machine
	lay := rep.Layout
	fmt.Fprintf(w, "machine: %d CPUs (%s), kernel %s, %s, %s\n", m.CPUs, m.CPUModel, m.Kernel, m.GoVersion, m.Date)
	fmt.Fprintf(w, "load:    %s before, %s after (1, 5, 15 min load averages)\n", m.LoadBefore, m.LoadAfter)
	var types []string
	for t, n := range lay.Types {
		types = append(types, fmt.Sprintf("%d %s", n, t))
	}
	slices.Sort(types)
	fmt.Fprintf(w, "layout:  %d points (%s; %d registers) scattered over hr:0..%d, max_gap %d, scan %s\n\n",
		lay.Points, strings.Join(types, ", "), lay.Registers, lay.Space-1, lay.Gap, lay.Scan)

	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "measurement\tresult")
	fmt.Fprintln(tw, "-----------\t------")
	fmt.Fprintf(tw, "planner minimum (125-register limit, max_gap %d)\t%d requests/cycle, %d registers read\n",
		lay.Gap, lay.MinRequests, lay.RegsPerCycle)
	phase := func(name string, r *WindowResult) {
		if r == nil {
			return
		}
		fmt.Fprintf(tw, "%s: Modbus requests per poll cycle\t%.2f (%d requests, %d FC3, in %d polls over %.2f s = %.1f periods; %d overruns)\n",
			name, r.PerCycle, r.Requests, r.FC3, r.Polls, r.Seconds, r.NominalCycles, r.Overruns)
		fmt.Fprintf(tw, "%s: poll cycle duration (POLL_LAST, median, p99, max)\t%.1f ms, %.1f ms, %.1f ms (%d polls seen)\n",
			name, r.PollMS.Median, r.PollMS.P99, r.PollMS.Max, r.PollMS.N)
		fmt.Fprintf(tw, "%s: cabridge CPU, RSS\t%.1f %% of a core, %s\n", name, r.CPUPercent, bytesIEC(float64(r.RSS)))
		perPoll := 0.0
		if r.Polls > 0 {
			perPoll = float64(r.MonitorUpdates) / float64(r.Polls)
		}
		fmt.Fprintf(tw, "%s: monitor updates at the client\t%d (%.0f per poll, %.0f/s; %d register writes)\n",
			name, r.MonitorUpdates, perPoll, float64(r.MonitorUpdates)/r.Seconds, r.RegistersWrites)
		if r.DeviceErrors > 0 {
			fmt.Fprintf(tw, "%s: device errors (health PV ERRORS)\t%d, last: %s\n", name, r.DeviceErrors, r.LastError)
		}
		if r.MachineCPUs > 0 {
			fmt.Fprintf(tw, "%s: whole machine busy (all processes); CPU pressure\t%.0f %% of %d CPUs; some task waited %.0f %% of the time\n",
				name, r.MachineBusyPct, r.MachineCPUs, r.CPUPressure)
		}
	}
	phase("static", rep.Static)
	if r := rep.Latency; r != nil {
		lat := func(name string, l Latency) {
			fmt.Fprintf(tw, "%s (min, median, p90, p99, max)\t%.1f, %.1f, %.1f, %.1f, %.1f ms\n",
				name, l.Min, l.Median, l.P90, l.P99, l.Max)
		}
		fmt.Fprintf(tw, "latency samples\t%d (%d timed out) in %.1f s; cabridge CPU %.1f %%\n", r.Samples, r.TimedOut, r.Seconds, r.CPU)
		lat("register set → CA monitor update", r.SetToCA)
		lat("  set → driver got the reply (update's stamp)", r.SetToRead)
		lat("  stamp → CA monitor update", r.ReadToCA)
		fmt.Fprintf(tw, "  poll cycle duration during the samples (median, p99, max)\t%.1f ms, %.1f ms, %.1f ms (%d polls seen)\n",
			r.PollMS.Median, r.PollMS.P99, r.PollMS.Max, r.PollMS.N)
		fmt.Fprintf(tw, "  CPU pressure during the samples\tsome task waited %.0f %% of the time\n", r.CPUPressure)
		for _, sl := range r.Slowest {
			fmt.Fprintf(tw, "  slow sample %s\t%.1f ms (set → read %.1f ms, read → client %.1f ms)\n", sl.Point, sl.SetToCA, sl.SetToRead, sl.ReadToCA)
		}
	}
	phase("churn", rep.Churn)
	fmt.Fprintf(tw, "cabridge RSS at start, peak\t%s, %s\n", bytesIEC(float64(rep.StartRSS)), bytesIEC(float64(rep.PeakRSS)))
	if err := tw.Flush(); err != nil {
		return err
	}
	if rep.BridgeLog != "" {
		fmt.Fprintf(w, "cabridge logged:\n%s\n", rep.BridgeLog)
	}
	for _, e := range rep.Errors {
		fmt.Fprintf(w, "FAILED: %s\n", e)
	}
	return nil
}

// bytesIEC formats a byte count: 1700 → "1.7 KiB".
func bytesIEC(b float64) string {
	switch {
	case b >= 1<<30:
		return fmt.Sprintf("%.1f GiB", b/(1<<30))
	case b >= 1<<20:
		return fmt.Sprintf("%.1f MiB", b/(1<<20))
	case b >= 1<<10:
		return fmt.Sprintf("%.1f KiB", b/(1<<10))
	default:
		return fmt.Sprintf("%.0f B", b)
	}
}
