package mqtt_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/cabridge/cabridge/drivers"
	"github.com/cabridge/cabridge/drivers/mqtt"
)

// testPKI is a CA with a server certificate for 127.0.0.1 and a client
// certificate, written as PEM files.
type testPKI struct {
	CA, ServerCert, ServerKey, ClientCert, ClientKey string
	pool                                             *x509.CertPool
	client                                           tls.Certificate
}

// newPKI makes the CA and certificates in dir.
func newPKI(t *testing.T, dir string) *testPKI {
	t.Helper()
	key := func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	write := func(name, typ string, der []byte) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	now := time.Now()
	caKey := key()
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "cabridge test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	p := &testPKI{CA: write("ca.pem", "CERTIFICATE", caDER), pool: x509.NewCertPool()}
	p.pool.AddCert(caCert)
	leaf := func(serial int64, cn string, usage x509.ExtKeyUsage, certName, keyName string) (string, string, tls.Certificate) {
		k := key()
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: cn},
			NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature,
			ExtKeyUsage: []x509.ExtKeyUsage{usage}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &k.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		kder, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		return write(certName, "CERTIFICATE", der), write(keyName, "PRIVATE KEY", kder),
			tls.Certificate{Certificate: [][]byte{der}, PrivateKey: k}
	}
	p.ServerCert, p.ServerKey, _ = leaf(2, "127.0.0.1", x509.ExtKeyUsageServerAuth, "server.pem", "server.key")
	p.ClientCert, p.ClientKey, p.client = leaf(3, "cabridge", x509.ExtKeyUsageClientAuth, "client.pem", "client.key")
	return p
}

// TestTLS connects over TLS to a broker that requires client
// certificates signed by a CA made here: with the CA file and the client
// certificate it works; without the certificate, or trusting another CA,
// Open fails.
func TestTLS(t *testing.T) {
	requireMosquitto(t)
	dir := t.TempDir()
	pki := newPKI(t, dir)
	b := startBroker(t, &brokerTLS{CAFile: pki.CA, CertFile: pki.ServerCert, KeyFile: pki.ServerKey, RequireCert: true})
	p := newPeer(t, b, &tls.Config{RootCAs: pki.pool, Certificates: []tls.Certificate{pki.client}, MinVersion: tls.VersionTLS12})
	p.pub("secure/t", "36.6", true)

	d := newDevice(t, b, mqtt.Config{TLS: &mqtt.TLSConfig{CAFile: pki.CA, CertFile: pki.ClientCert, KeyFile: pki.ClientKey}}, nil)
	pt := parse(t, d, drivers.PointSpec{Address: "secure/t"})
	open(t, d)
	ss, err := d.Read(t.Context(), []drivers.Point{pt})
	if err != nil || ss[0].Err != nil || !drivers.Equal(ss[0].Value, drivers.Floats{36.6}) {
		t.Fatalf("Read over TLS = %v, %v", ss, err)
	}

	other := newPKI(t, t.TempDir())
	for name, tc := range map[string]*mqtt.TLSConfig{
		"no client certificate": {CAFile: pki.CA},
		"another CA":            {CAFile: other.CA, CertFile: pki.ClientCert, KeyFile: pki.ClientKey},
	} {
		d := newDevice(t, b, mqtt.Config{TLS: tc}, nil)
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		err := d.Open(ctx)
		cancel()
		if !errors.Is(err, drivers.ErrDisconnected) {
			t.Errorf("%s: Open = %v; want ErrDisconnected", name, err)
		}
		d.Close()
	}
	missing := newDevice(t, b, mqtt.Config{TLS: &mqtt.TLSConfig{CAFile: filepath.Join(dir, "nope.pem")}}, nil)
	if err := missing.Open(t.Context()); err == nil {
		t.Error("Open with a missing CA file succeeded")
	}
}
