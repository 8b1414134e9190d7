package store_test

// Real database servers for the tests: PostgreSQL from the machine's
// binaries (Debian's postgresql package), started in a temporary directory
// on a unix socket only; ClickHouse from its server binary, on a loopback
// port. Each is started once for the package and stopped by TestMain. A
// server that is not installed makes its tests skip and say so;
// SPLINTER_TEST_POSTGRES and SPLINTER_TEST_CLICKHOUSE name running servers
// to use instead.

import (
	"context"
	"database/sql"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	_ "github.com/jackc/pgx/v5/stdlib"
)

func TestMain(m *testing.M) {
	code := m.Run()
	for _, stop := range stops {
		stop()
	}
	os.Exit(code)
}

var (
	stopsMu sync.Mutex
	stops   []func()
	dbSeq   atomic.Int64
)

func atExit(f func()) {
	stopsMu.Lock()
	stops = append(stops, f)
	stopsMu.Unlock()
}

// server is a database server shared by the package's tests.
type server struct {
	once sync.Once
	base string // DSN of the server's default database
	skip string // why there is none
}

var pgServer, chServer server

// postgresDSN returns the DSN of a new, empty PostgreSQL database.
func postgresDSN(t testing.TB) string {
	t.Helper()
	pgServer.once.Do(func() {
		if dsn := os.Getenv("SPLINTER_TEST_POSTGRES"); dsn != "" {
			pgServer.base = dsn
			return
		}
		pgServer.base, pgServer.skip = startPostgres()
	})
	if pgServer.skip != "" {
		t.Skip(pgServer.skip)
	}
	name := fmt.Sprintf("splinter_test_%d_%d", os.Getpid(), dbSeq.Add(1))
	db, err := sql.Open("pgx", pgServer.base)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec("CREATE DATABASE " + name); err != nil {
		t.Fatalf("create database: %v", err)
	}
	t.Cleanup(func() {
		db, err := sql.Open("pgx", pgServer.base)
		if err == nil {
			db.Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)")
			db.Close()
		}
	})
	return withDatabase(pgServer.base, name)
}

// withDatabase replaces the database (the URL's path) of dsn.
func withDatabase(dsn, name string) string {
	scheme, rest, _ := strings.Cut(dsn, "://")
	hostPart, query, _ := strings.Cut(rest, "?")
	host, _, _ := strings.Cut(hostPart, "/")
	out := scheme + "://" + host + "/" + name
	if query != "" {
		out += "?" + query
	}
	return out
}

func binary(name string, dirs ...string) string {
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	for _, d := range dirs {
		ms, _ := filepath.Glob(filepath.Join(d, name))
		if len(ms) > 0 {
			return ms[len(ms)-1]
		}
	}
	return ""
}

// asUser runs cmd as the named system user when this process is root (the
// servers refuse to run as root, or should not).
func asUser(cmd *exec.Cmd, name, dir string) error {
	if os.Geteuid() != 0 {
		return nil
	}
	u, err := user.Lookup(name)
	if err != nil {
		return fmt.Errorf("running as root and there is no %s user to run the server as", name)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}
	return filepath.Walk(dir, func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Chown(p, uid, gid)
	})
}

// startPostgres runs initdb and pg_ctl in a temporary directory: the
// server listens on a unix socket in that directory and nowhere else.
func startPostgres() (dsn, skip string) {
	dirs := []string{"/usr/lib/postgresql/*/bin"}
	initdb, pgctl := binary("initdb", dirs...), binary("pg_ctl", dirs...)
	if initdb == "" || pgctl == "" {
		return "", "PostgreSQL's initdb and pg_ctl are not installed (apt-get install postgresql), or set SPLINTER_TEST_POSTGRES"
	}
	dir, err := os.MkdirTemp("", "splinter-pg-")
	if err != nil {
		return "", "postgres: " + err.Error()
	}
	run := func(name string, args ...string) error {
		cmd := exec.Command(name, args...)
		if err := asUser(cmd, "postgres", dir); err != nil {
			return err
		}
		out, err := cmd.CombinedOutput()
		if err != nil {
			return fmt.Errorf("%s: %v\n%s", filepath.Base(name), err, out)
		}
		return nil
	}
	data := filepath.Join(dir, "data")
	if err := run(initdb, "-D", data, "-U", "splinter", "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync"); err != nil {
		os.RemoveAll(dir)
		return "", "postgres: " + err.Error()
	}
	opts := fmt.Sprintf("-c listen_addresses='' -k %s -F -c fsync=off -c full_page_writes=off -c synchronous_commit=off", dir)
	if err := run(pgctl, "-D", data, "-l", filepath.Join(dir, "log"), "-w", "-t", "120", "-o", opts, "start"); err != nil {
		os.RemoveAll(dir)
		return "", "postgres: " + err.Error()
	}
	atExit(func() {
		run(pgctl, "-D", data, "-m", "immediate", "-w", "stop")
		os.RemoveAll(dir)
	})
	return "postgres:///postgres?host=" + dir + "&user=splinter&sslmode=disable", ""
}

// clickhouseDSN returns the DSN of a new, empty ClickHouse database.
func clickhouseDSN(t testing.TB) string {
	t.Helper()
	chServer.once.Do(func() {
		if dsn := os.Getenv("SPLINTER_TEST_CLICKHOUSE"); dsn != "" {
			chServer.base = dsn
			return
		}
		chServer.base, chServer.skip = startClickHouse()
	})
	if chServer.skip != "" {
		t.Skip(chServer.skip)
	}
	name := fmt.Sprintf("splinter_test_%d_%d", os.Getpid(), dbSeq.Add(1))
	opt, err := clickhouse.ParseDSN(chServer.base)
	if err != nil {
		t.Fatal(err)
	}
	db := clickhouse.OpenDB(opt)
	defer db.Close()
	if _, err := db.Exec("CREATE DATABASE " + name); err != nil {
		t.Fatalf("create database: %v", err)
	}
	t.Cleanup(func() {
		db := clickhouse.OpenDB(opt)
		db.Exec("DROP DATABASE IF EXISTS " + name)
		db.Close()
	})
	return withDatabase(chServer.base, name)
}

const chUsers = `<?xml version="1.0"?>
<yandex>
  <profiles><default></default></profiles>
  <users><default><password></password><networks><ip>127.0.0.1</ip><ip>::1</ip></networks><profile>default</profile><quota>default</quota></default></users>
  <quotas><default></default></quotas>
</yandex>
`

// startClickHouse runs clickhouse-server in a temporary directory on a
// free loopback port.
func startClickHouse() (dsn, skip string) {
	bin := binary("clickhouse-server")
	args := []string{}
	if bin == "" {
		if bin = binary("clickhouse"); bin != "" {
			args = append(args, "server")
		}
	}
	if bin == "" {
		return "", "clickhouse-server is not installed (apt-get install clickhouse-server), or set SPLINTER_TEST_CLICKHOUSE"
	}
	dir, err := os.MkdirTemp("", "splinter-ch-")
	if err != nil {
		return "", "clickhouse: " + err.Error()
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", "clickhouse: " + err.Error()
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	config := fmt.Sprintf(`<?xml version="1.0"?>
<yandex>
  <logger><level>warning</level><log>%[1]s/server.log</log><errorlog>%[1]s/error.log</errorlog><console>0</console></logger>
  <tcp_port>%[2]d</tcp_port>
  <listen_host>127.0.0.1</listen_host>
  <path>%[1]s/data/</path>
  <tmp_path>%[1]s/tmp/</tmp_path>
  <user_files_path>%[1]s/user_files/</user_files_path>
  <format_schema_path>%[1]s/format_schemas/</format_schema_path>
  <users_config>%[1]s/users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <mark_cache_size>67108864</mark_cache_size>
</yandex>
`, dir, port)
	if err := os.WriteFile(filepath.Join(dir, "config.xml"), []byte(config), 0o644); err != nil {
		return "", "clickhouse: " + err.Error()
	}
	if err := os.WriteFile(filepath.Join(dir, "users.xml"), []byte(chUsers), 0o644); err != nil {
		return "", "clickhouse: " + err.Error()
	}
	cmd := exec.Command(bin, append(args, "--config-file="+filepath.Join(dir, "config.xml"))...)
	cmd.Dir = dir
	if _, err := user.Lookup("clickhouse"); err == nil {
		if err := asUser(cmd, "clickhouse", dir); err != nil {
			return "", "clickhouse: " + err.Error()
		}
	}
	if err := cmd.Start(); err != nil {
		return "", "clickhouse: " + err.Error()
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stop := func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(30 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
		os.RemoveAll(dir)
	}
	dsn = fmt.Sprintf("clickhouse://127.0.0.1:%d/default?dial_timeout=5s", port)
	opt, _ := clickhouse.ParseDSN(dsn)
	db := clickhouse.OpenDB(opt)
	defer db.Close()
	deadline := time.Now().Add(90 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err := db.PingContext(ctx)
		cancel()
		if err == nil {
			break
		}
		select {
		case werr := <-exited:
			log, _ := os.ReadFile(filepath.Join(dir, "error.log"))
			os.RemoveAll(dir)
			return "", fmt.Sprintf("clickhouse-server exited: %v\n%s", werr, tail(string(log), 2000))
		default:
		}
		if time.Now().After(deadline) {
			stop()
			return "", "clickhouse-server did not answer within 90s: " + err.Error()
		}
		time.Sleep(200 * time.Millisecond)
	}
	atExit(stop)
	return dsn, ""
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}
