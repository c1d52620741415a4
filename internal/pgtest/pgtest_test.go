package pgtest

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
)

func TestStartTLS(t *testing.T) {
	s := Start(t, Options{TLS: &TLS{}})
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, s.URL("", "", "sslmode=verify-full&sslrootcert="+s.Certs.CAFile))
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer conn.Close(ctx)
	var ssl bool
	if err := conn.QueryRow(ctx, "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()").Scan(&ssl); err != nil {
		t.Fatal(err)
	}
	if !ssl {
		t.Fatal("expected a TLS connection")
	}
	s.Stop()
	if _, err := pgx.Connect(ctx, s.URL("", "", "sslmode=disable")); err == nil {
		t.Fatal("connect succeeded after Stop")
	}
	s.Restart(t)
	c2, err := pgx.Connect(ctx, s.URL("", "", "sslmode=require"))
	if err != nil {
		t.Fatalf("connect after restart: %v", err)
	}
	c2.Close(ctx)
}
