package ratelimit

import (
	"context"
	"testing"
	"time"
)

func TestMemoryWindow(t *testing.T) {
	now := time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)
	m := NewMemory(3, time.Minute)
	m.now = func() time.Time { return now }
	ctx := context.Background()
	for i := 1; i <= 4; i++ {
		ok, _ := m.Allow(ctx, "10.0.0.1")
		if ok != (i <= 3) {
			t.Fatalf("request %d allowed=%v, want %v", i, ok, i <= 3)
		}
	}
	if ok, _ := m.Allow(ctx, "10.0.0.2"); !ok {
		t.Fatal("another client shares the first client's budget")
	}
	now = now.Add(time.Minute)
	if ok, _ := m.Allow(ctx, "10.0.0.1"); !ok {
		t.Fatal("budget not renewed in the next window")
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	if _, err := New("redis", 1, time.Second, nil); err == nil {
		t.Error("unknown backend accepted")
	}
	if _, err := New("memory", 0, time.Second, nil); err == nil {
		t.Error("zero limit accepted")
	}
}
