package mqtt

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"

	paho "github.com/eclipse/paho.mqtt.golang"
)

// client is the part of paho's Client that the device uses: a consumer
// side seam, so that unit tests can give the device a fake (see
// Device.newClient) while the real tests use paho against mosquitto.
type client interface {
	Connect() paho.Token
	Disconnect(quiesce uint)
	IsConnectionOpen() bool
	Publish(topic string, qos byte, retained bool, payload any) paho.Token
	SubscribeMultiple(filters map[string]byte, callback paho.MessageHandler) paho.Token
}

// clientFactory builds a client from paho's options.
type clientFactory func(o *paho.ClientOptions) client

// newPahoClient is the real clientFactory.
func newPahoClient(o *paho.ClientOptions) client { return paho.NewClient(o) }

// wait waits for tok within ctx. A done ctx gives ctx.Err(); otherwise
// it returns tok's error.
func wait(ctx context.Context, tok paho.Token) error {
	select {
	case <-tok.Done():
		return tok.Error()
	case <-ctx.Done():
		return ctx.Err()
	}
}

// loadTLS builds the TLS config of c. It reads files, so it is called by
// Open, not by Validate.
func loadTLS(c *TLSConfig) (*tls.Config, error) {
	conf := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: c.ServerName}
	if c.CAFile != "" {
		pem, err := os.ReadFile(c.CAFile)
		if err != nil {
			return nil, fmt.Errorf("mqtt: tls.ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("mqtt: tls.ca_file %s: no PEM certificate", c.CAFile)
		}
		conf.RootCAs = pool
	}
	if c.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("mqtt: tls.cert_file/key_file: %w", err)
		}
		conf.Certificates = []tls.Certificate{cert}
	}
	return conf, nil
}

// notConnected reports whether a paho error says the request was not
// sent for want of a connection.
func notConnected(err error) bool { return errors.Is(err, paho.ErrNotConnected) }
