package interop_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/cabridge/cabridge/ca"
)

// TestWaveformRoundTrip puts and gets a 1,000,000-element double waveform
// with EPICS_CA_MAX_ARRAY_BYTES raised on both sides.
func TestWaveformRoundTrip(t *testing.T) {
	requirePeer(t)
	const n = 1_000_000
	init := make([]float64, n)
	for i := range init {
		init[i] = float64(i % 1000)
	}
	wf := ca.NewDouble(ca.Options{MaxLength: n}, init...)
	srv := startServer(t, map[string]ca.PV{"big:wf": wf}, func(c *ca.Config) { c.MaxArrayBytes = 10_000_000 })
	env := srv.Env()
	env["EPICS_CA_MAX_ARRAY_BYTES"] = "10000000"
	env["EPICS_CA_AUTO_ARRAY_BYTES"] = "NO"
	var r struct {
		Count      int       `json:"count"`
		FType      int       `json:"ftype"`
		BeforeLen  int       `json:"before_len"`
		BeforeSum  float64   `json:"before_sum"`
		BeforeLast float64   `json:"before_last"`
		PutRet     int       `json:"put_ret"`
		AfterLen   int       `json:"after_len"`
		AfterEqual bool      `json:"after_equal"`
		AfterLast  float64   `json:"after_last"`
		Partial    []float64 `json:"partial"`
		GetSeconds float64   `json:"get_seconds"`
		PutSeconds float64   `json:"put_seconds"`
	}
	runPy(t, 120*time.Second, "waveform.py", env, map[string]any{"pv": "big:wf", "scale": 0.5}, &r)
	t.Logf("1e6 doubles: get %.3fs, put %.3fs (libca through pyepics)", r.GetSeconds, r.PutSeconds)
	if r.Count != n || r.FType != dbrDouble {
		t.Errorf("native %d[%d], want DOUBLE[%d]", r.FType, r.Count, n)
	}
	if r.BeforeLen != n || r.BeforeLast != 999 || r.BeforeSum != 1000*499500 {
		t.Errorf("initial read: len %d last %v sum %v", r.BeforeLen, r.BeforeLast, r.BeforeSum)
	}
	if r.PutRet != 1 || r.AfterLen != n || !r.AfterEqual || r.AfterLast != (n-1)*0.5 {
		t.Errorf("after put: ret %d len %d equal %v last %v", r.PutRet, r.AfterLen, r.AfterEqual, r.AfterLast)
	}
	if fmt.Sprint(r.Partial) != "[0 0.5 1 1.5 2 2.5 3 3.5 4 4.5]" {
		t.Errorf("count-10 read %v", r.Partial)
	}
	vs := wf.Values()
	if len(vs) != n || vs[1] != 0.5 || vs[n-1] != (n-1)*0.5 {
		t.Errorf("server holds %d elements, [1]=%v [n-1]=%v", len(vs), vs[1], vs[n-1])
	}
}

// TestManyPVs connects 100,000 channels from one client.
func TestManyPVs(t *testing.T) {
	requirePeer(t)
	const n = 100_000
	pvs := make(map[string]ca.PV, n)
	for i := range n {
		pvs[fmt.Sprintf("many:%06d", i)] = ca.NewDouble(ca.Options{}, float64(i))
	}
	srv := startServer(t, pvs, nil)
	var r struct {
		Connected     int                `json:"connected"`
		N             int                `json:"n"`
		CreateSeconds float64            `json:"create_seconds"`
		Seconds       float64            `json:"seconds"`
		Sample        map[string]float64 `json:"sample"`
	}
	runPy(t, 180*time.Second, "manypvs.py", srv.Env(), map[string]any{"n": n, "prefix": "many:", "format": "%06d", "timeout": 150}, &r)
	t.Logf("%d channels connected in %.2fs (%.2fs creating them in Python)", r.Connected, r.Seconds, r.CreateSeconds)
	if r.Connected != n {
		t.Fatalf("%d of %d channels connected", r.Connected, n)
	}
	for name, v := range r.Sample {
		var i int
		fmt.Sscanf(name, "many:%06d", &i)
		if v != float64(i) {
			t.Errorf("%s = %v, want %d", name, v, i)
		}
	}
	if st := srv.Stats(); st.SearchHits < n {
		t.Errorf("server answered %d searches, want ≥ %d", st.SearchHits, n)
	}
}

// TestManyClients runs 100 libca clients (processes) at once.
func TestManyClients(t *testing.T) {
	requirePeer(t)
	const n = 100
	srv := startServer(t, map[string]ca.PV{"mc:v": ca.NewLong(ca.Options{}, 4242)}, nil)
	var r struct {
		OK     int   `json:"ok"`
		N      int   `json:"n"`
		Errors []any `json:"errors"`
		Values []int `json:"values"`
		PIDs   int   `json:"pids"`
	}
	runPy(t, 170*time.Second, "manyclients.py", srv.Env(), map[string]any{"clients": n, "pv": "mc:v"}, &r)
	if r.OK != n || fmt.Sprint(r.Values) != "[4242]" || r.PIDs != n {
		t.Errorf("%d of %d clients read %v from %d processes; errors %v", r.OK, n, r.Values, r.PIDs, r.Errors)
	}
	if st := srv.Stats(); st.ClientsTotal < n {
		t.Errorf("server accepted %d circuits, want ≥ %d", st.ClientsTotal, n)
	}
}

// TestShutdownDisconnects checks that clients see a server shutdown as a
// disconnect (connection callback with conn=False).
func TestShutdownDisconnects(t *testing.T) {
	requirePeer(t)
	srv := startServer(t, map[string]ca.PV{"sd:v": ca.NewDouble(ca.Options{}, 1.5)}, nil)
	p := startPy(t, 60*time.Second, "disconnect.py", srv.Env(), map[string]any{"pv": "sd:v", "timeout": 30})
	var up struct {
		Connected bool    `json:"connected"`
		Value     float64 `json:"value"`
	}
	p.next(&up)
	if !up.Connected || up.Value != 1.5 {
		t.Fatalf("before shutdown: %+v", up)
	}
	srv.shutdown(t)
	var down struct {
		Disconnected   bool    `json:"disconnected"`
		Events         []bool  `json:"events"`
		Seconds        float64 `json:"seconds"`
		StateConnected bool    `json:"state_connected"`
	}
	p.next(&down)
	p.wait()
	if !down.Disconnected || down.StateConnected {
		t.Errorf("client did not see the shutdown as a disconnect: %+v", down)
	}
}

// TestNameServer finds PVs over TCP with EPICS_CA_NAME_SERVERS and no UDP
// search addresses at all.
func TestNameServer(t *testing.T) {
	requirePeer(t)
	srv := startServer(t, map[string]ca.PV{
		"ns:a": ca.NewDouble(ca.Options{Units: "K"}, 77.5),
		"ns:b": ca.NewString(ca.Options{}, "over tcp"),
	}, nil)
	env := srv.NameServerEnv()
	var got map[string]readResult
	runPy(t, 60*time.Second, "read.py", env, map[string]any{"pvs": []string{"ns:a", "ns:b"}, "families": []string{"time", "ctrl"}}, &got)
	if v := got["ns:a"].Reads[fmt.Sprint(dbrType(famTime, dbrDouble))].Value; fmt.Sprint(v) != "[77.5]" {
		t.Errorf("ns:a = %v, want [77.5]", v)
	}
	if u := got["ns:a"].Reads[fmt.Sprint(dbrType(famCtrl, dbrDouble))].Units; u == nil || *u != "K" {
		t.Errorf("ns:a units %v, want K", deref(u))
	}
	if v := got["ns:b"].Reads[fmt.Sprint(dbrType(famTime, dbrString))].Value; fmt.Sprint(v) != "[over tcp]" {
		t.Errorf("ns:b = %v", v)
	}
	if st := srv.Stats(); st.SearchDatagrams != 0 {
		t.Errorf("server got %d UDP search datagrams in TCP-only mode", st.SearchDatagrams)
	}
}
