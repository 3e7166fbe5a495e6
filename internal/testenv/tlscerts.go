package testenv

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// Certs is a throwaway PKI for TLS tests, written as PEM files into one directory: a CA, a
// server certificate it signs (for 127.0.0.1, ::1 and localhost), a client certificate it
// signs, and a second CA that signs nothing here, to stand for "the wrong CA".
type Certs struct {
	Dir string
	// CAFile signs ServerCert and ClientCert.
	CAFile string
	// ServerCert and ServerKey are for the servers; SANs 127.0.0.1, ::1 and localhost.
	ServerCert, ServerKey string
	// ClientCert and ClientKey identify the client; its common name is the clientCN given to
	// NewCerts (PostgreSQL's `cert` authentication takes the role name from it).
	ClientCert, ClientKey string
	// OtherCAFile is a CA that signed nothing here: a client that trusts only it must refuse
	// the server, and a server that trusts only it must refuse the client.
	OtherCAFile string
}

// NewCerts writes a fresh PKI into dir (created if needed). Keys are ECDSA P-256, written
// with mode 0600; certificates are valid from an hour ago for a day.
func NewCerts(t testing.TB, dir, clientCN string) *Certs {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("testenv: certs: %v", err)
	}
	c := &Certs{
		Dir:         dir,
		CAFile:      filepath.Join(dir, "ca.pem"),
		ServerCert:  filepath.Join(dir, "server.pem"),
		ServerKey:   filepath.Join(dir, "server-key.pem"),
		ClientCert:  filepath.Join(dir, "client.pem"),
		ClientKey:   filepath.Join(dir, "client-key.pem"),
		OtherCAFile: filepath.Join(dir, "other-ca.pem"),
	}
	notBefore := time.Now().Add(-time.Hour)
	notAfter := notBefore.Add(25 * time.Hour)

	caKey, caCert := newCA(t, "tokentail test CA", notBefore, notAfter)
	writePEM(t, c.CAFile, "CERTIFICATE", caCert.Raw, 0o644)
	_, other := newCA(t, "tokentail unrelated CA", notBefore, notAfter)
	writePEM(t, c.OtherCAFile, "CERTIFICATE", other.Raw, 0o644)

	server := &x509.Certificate{
		Subject:     pkix.Name{CommonName: "localhost"},
		DNSNames:    []string{"localhost"},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		NotBefore:   notBefore, NotAfter: notAfter,
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	issue(t, server, caCert, caKey, c.ServerCert, c.ServerKey)
	client := &x509.Certificate{
		Subject:   pkix.Name{CommonName: clientCN},
		NotBefore: notBefore, NotAfter: notAfter,
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	issue(t, client, caCert, caKey, c.ClientCert, c.ClientKey)
	return c
}

func newCA(t testing.TB, name string, notBefore, notAfter time.Time) (*ecdsa.PrivateKey, *x509.Certificate) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("testenv: CA key: %v", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial(t),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatalf("testenv: CA certificate: %v", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatalf("testenv: CA certificate: %v", err)
	}
	return key, cert
}

// issue signs tmpl with the CA and writes the certificate and its new key.
func issue(t testing.TB, tmpl, ca *x509.Certificate, caKey *ecdsa.PrivateKey, certPath, keyPath string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("testenv: key: %v", err)
	}
	tmpl.SerialNumber = serial(t)
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatalf("testenv: certificate %s: %v", tmpl.Subject.CommonName, err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatalf("testenv: key: %v", err)
	}
	writePEM(t, certPath, "CERTIFICATE", der, 0o644)
	writePEM(t, keyPath, "PRIVATE KEY", keyDER, 0o600)
}

func serial(t testing.TB) *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	if err != nil {
		t.Fatalf("testenv: serial: %v", err)
	}
	return n
}

func writePEM(t testing.TB, path, typ string, der []byte, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), mode); err != nil {
		t.Fatalf("testenv: write %s: %v", path, err)
	}
}
