package config

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strings"
)

// TLS configures the client side of a TLS connection to a server: which
// certificate authorities to trust and which certificate to present.
// PostgreSQL needs none of this: its DSN carries sslmode, sslrootcert,
// sslcert and sslkey, which the driver reads itself.
type TLS struct {
	// CAFile is a PEM file of the certificate authorities that sign the
	// server's certificate; "" trusts the system's roots.
	CAFile string `yaml:"ca_file,omitempty"`
	// CertFile and KeyFile are the PEM client certificate and its private
	// key, for servers (or proxies) that require one. Both or neither.
	CertFile string `yaml:"cert_file,omitempty"`
	KeyFile  string `yaml:"key_file,omitempty"`
	// InsecureSkipVerify accepts any server certificate. For tests only:
	// the connection is encrypted but anyone in the middle can read it.
	InsecureSkipVerify bool `yaml:"insecure_skip_verify"`
}

// ClientConfig reads the files t names and returns the tls.Config a client
// uses. A nil t returns nil (the defaults). The error names the file and
// says what is wrong with it; Load reports it against the key that names
// the file.
func (t *TLS) ClientConfig() (*tls.Config, error) {
	if t == nil {
		return nil, nil
	}
	c := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: t.InsecureSkipVerify}
	if t.CAFile != "" {
		pool, err := loadCAs(t.CAFile)
		if err != nil {
			return nil, &tlsFileError{key: "ca_file", err: err}
		}
		c.RootCAs = pool
	}
	switch {
	case t.CertFile != "" && t.KeyFile != "":
		// Each file is read apart first, so that the error names the one
		// that is missing; LoadX509KeyPair names neither.
		for _, f := range []struct{ key, path string }{{"cert_file", t.CertFile}, {"key_file", t.KeyFile}} {
			if _, err := os.ReadFile(f.path); err != nil {
				return nil, &tlsFileError{key: f.key, err: err}
			}
		}
		cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
		if err != nil {
			return nil, &tlsFileError{key: "cert_file", err: fmt.Errorf("load %s and %s: %w", t.CertFile, t.KeyFile, err)}
		}
		c.Certificates = []tls.Certificate{cert}
	case t.CertFile != "":
		return nil, &tlsFileError{key: "key_file", err: errors.New("required with cert_file: the client certificate's private key")}
	case t.KeyFile != "":
		return nil, &tlsFileError{key: "cert_file", err: errors.New("required with key_file: the client certificate")}
	}
	return c, nil
}

// loadCAs reads a PEM bundle that must hold at least one certificate.
func loadCAs(path string) (*x509.CertPool, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err // *PathError: "open /x: no such file or directory"
	}
	pool := x509.NewCertPool()
	n := 0
	for rest := data; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		cert, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%s: certificate %d: %w", path, n+1, err)
		}
		pool.AddCert(cert)
		n++
	}
	if n == 0 {
		return nil, fmt.Errorf("%s holds no PEM certificate (-----BEGIN CERTIFICATE-----)", path)
	}
	return pool, nil
}

// tlsFileError is a problem with one of the files of a TLS section; key is
// the key (under the section) it is reported against.
type tlsFileError struct {
	key string
	err error
}

func (e *tlsFileError) Error() string { return e.err.Error() }
func (e *tlsFileError) Unwrap() error { return e.err }

// checkTLS is Load's check of the files a TLS section names: they are read
// as the client will read them, so that `config check` fails where `run`
// would, with the file:line of the key at fault.
func (c *Config) checkTLS() []Problem {
	if c.InfluxDB == nil || c.InfluxDB.TLS == nil {
		return nil
	}
	_, err := c.InfluxDB.TLS.ClientConfig()
	var fe *tlsFileError
	if !errors.As(err, &fe) {
		return nil
	}
	key := "influxdb.tls." + fe.key
	pos := c.at(key)
	return []Problem{{File: c.File, Line: pos.Line, Column: pos.Column, Key: key, Msg: fe.Error()}}
}

// validate checks what can be checked without reading the files.
func (t *TLS) validate(v *validator, key, rawURL string) {
	if t.CertFile != "" && t.KeyFile == "" {
		v.add(key+".key_file", "required with cert_file: the client certificate's private key")
	}
	if t.KeyFile != "" && t.CertFile == "" {
		v.add(key+".cert_file", "required with key_file: the client certificate")
	}
	if t.InsecureSkipVerify && t.CAFile != "" {
		v.add(key+".insecure_skip_verify", "true makes ca_file pointless: remove one of them")
	}
	if strings.HasPrefix(strings.ToLower(rawURL), "http://") {
		v.add(key, "set, but the url is http://: use https:// for TLS (or remove tls)")
	}
}
