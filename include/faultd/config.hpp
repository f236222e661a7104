#pragma once

// faultd's configuration: the YAML file's sections as plain structs, the
// loader that validates it (file:line: messages, exit status 2 on error),
// the embedded default config and the command-line overrides.
//
// Every field has the default that applies when its key is absent. The
// seed's config/fault_recovery.yaml loads unchanged.

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "faultd/domain.hpp"
#include "faultd/error.hpp"
#include "faultd/time.hpp"

namespace faultd {

/// host:port.
struct endpoint {
  std::string host = "127.0.0.1";
  uint16_t port = 0;
  std::string to_string() const;
};

/// Parses "HOST:PORT" (port 0..65535; "[::1]:80" for IPv6). nullopt if bad.
std::optional<endpoint> parse_endpoint(std::string_view s);

/// Where a control endpoint is: a Unix socket or a TCP endpoint.
struct control_address {
  std::string unix_path; ///< "unix:PATH": the socket's path; empty for TCP
  endpoint tcp;          ///< "HOST:PORT" / "[v6]:PORT"
  bool is_unix() const { return !unix_path.empty(); }
  /// "unix:PATH" or "HOST:PORT".
  std::string to_string() const;
};

/// Parses "unix:PATH", "HOST:PORT" or "[v6]:PORT". nullopt if bad.
std::optional<control_address> parse_control_address(std::string_view s);

struct node_config {
  std::string id = "node-1";
  /// The peer port (BASP, other faultd nodes only); none by default.
  std::optional<endpoint> listen;
  std::string data_dir = "./faultd-data";
  /// The control endpoint (faultctl). Unset: unix:<data_dir>/control.sock.
  std::optional<control_address> control;
  /// The token a TCP control endpoint requires ("" = none configured).
  std::string control_token_file;
  /// A group allowed to use the control socket (mode 0660); "" = owner only.
  std::string control_group;
  /// The largest control frame accepted, in bytes.
  size_t control_max_frame = 4u << 20;

  /// The control endpoint in effect.
  control_address control_endpoint() const {
    if (control)
      return *control;
    control_address a;
    a.unix_path = data_dir + "/control.sock";
    return a;
  }
};

/// cluster.tls: the peer port speaks TLS with mutual authentication; every
/// node's certificate must be signed by `ca` (a CA of the cluster's own:
/// there is no hostname check).
struct cluster_tls {
  std::string certificate; ///< this node's certificate (PEM)
  std::string key;         ///< its private key (PEM)
  std::string ca;          ///< the CA that signs every node's certificate (PEM)
  /// A connection to the peer port that has not finished its handshake by
  /// then is closed (libcaf_openssl itself would wait forever).
  duration handshake_timeout = seconds_d(5);
  /// Connections in their handshake at once; more are refused at accept
  /// (and a quarter of that from any one address).
  uint32_t max_pending_handshakes = 64;
};

/// How members find out about each other (README, "Cluster").
enum class membership_mode : uint8_t {
  mesh, ///< every member heartbeats every other (tens of nodes)
  swim  ///< SWIM: one probe per interval, gossip to a few (constant load per node)
};
std::string_view to_string(membership_mode m);

struct cluster_config {
  std::vector<endpoint> seeds;
  membership_mode membership = membership_mode::mesh;
  // -- mesh only --
  duration heartbeat_interval = millis_d(100);
  double phi_threshold = 8.0;
  /// suspect -> dead when no probe or heartbeat reached it meanwhile.
  duration suspect_timeout = millis_d(500);
  /// The phi detector's floor for the heartbeats' standard deviation.
  duration min_std_deviation = millis_d(100);
  /// Silence beyond the mean interval that is still normal (GC, load).
  duration acceptable_heartbeat_pause = millis_d(0);
  // -- swim only (memberlist's LAN defaults) --
  duration probe_interval = millis_d(1000);
  duration probe_timeout = millis_d(500);
  duration gossip_interval = millis_d(200);
  duration push_pull_interval = seconds_d(30);
  /// Members that must be alive for a failover (0 = a majority of the
  /// members this node knows, itself included, `left` ones not counted).
  uint32_t quorum = 0;
  std::optional<cluster_tls> tls;
  /// Allows a plaintext peer port off loopback (warned at every start).
  bool insecure_plaintext = false;
};

/// Whether `host` is a loopback address (127.0.0.0/8, ::1, localhost).
bool is_loopback_host(const std::string& host);

/// Checks cluster.tls's files: readable PEM, the key matches the
/// certificate, and the certificate is signed by the CA.
status check_tls_files(const cluster_tls& tls);

enum class restart_policy : uint8_t { always, on_failure, never };
std::string_view to_string(restart_policy p);
std::optional<restart_policy> parse_restart_policy(std::string_view s);

/// `restart:` of a service: either a bare policy name or a map.
struct restart_config {
  restart_policy policy = restart_policy::always;
  uint32_t burst = 5;                     ///< restarts allowed within `period`...
  duration period = seconds_d(60);        ///< ...before the storm guard engages
  duration backoff_initial = millis_d(500);
  duration backoff_max = seconds_d(30);
  double backoff_jitter = 0.2;            ///< +- fraction of the delay
  duration stop_grace = seconds_d(5);     ///< SIGTERM -> SIGKILL
};

/// `custom`: a check type an embedding application registers by name
/// (parse_options::check_types); its name is in check_config::custom_type.
enum class check_kind : uint8_t { tcp, http, exec, mqtt, custom };
std::string_view to_string(check_kind k);
/// The built-in kinds only ("custom" is never a name in a config).
std::optional<check_kind> parse_check_kind(std::string_view s);

/// One health check of a service.
struct check_config {
  std::string name;               ///< defaults to "<kind>" (unique per service)
  check_kind kind = check_kind::tcp;
  std::string host = "127.0.0.1"; ///< tcp, mqtt
  uint16_t port = 0;              ///< tcp; mqtt (default 1883, 8883 with tls)
  std::string send;               ///< tcp: written once connected ("" = nothing)
  std::string expect;             ///< tcp: the answer must contain it ("" = any)
  std::string probe_topic;        ///< mqtt: publish -> subscribe round trip ("" = CONNACK only)
  std::string username;           ///< mqtt ("" = none)
  std::string password;           ///< mqtt
  std::string tls_ca;             ///< mqtt: set = TLS, trusting this CA file
  std::string tls_certificate;    ///< mqtt: client certificate (with tls_key)
  std::string tls_key;            ///< mqtt
  std::string url;                ///< http
  int expected_status = 200;      ///< http
  std::vector<std::string> command; ///< exec argv
  std::string custom_type;        ///< custom: the registered type's name
  /// custom: the check's `parameters:` (scalars, as written), for its type.
  std::map<std::string, std::string> parameters;
  duration interval = seconds_d(10);
  duration timeout = seconds_d(2);
  uint32_t failure_threshold = 3; ///< consecutive failures to turn unhealthy
  uint32_t success_threshold = 1; ///< consecutive successes to turn healthy
  fault_type fault = fault_type::service_unavailable;
  fault_severity severity = fault_severity::high;
};

/// The check's type as a config names it: "tcp", ..., or a custom type's
/// own name.
std::string check_type_name(const check_config& c);

/// Parses a byte size: a bare number of bytes, or a number with B, KB, MB,
/// GB (powers of 1000) or KiB, MiB, GiB (powers of 1024). nullopt if bad or
/// if it overflows.
std::optional<uint64_t> parse_size(std::string_view s);

/// Parses a signal name ("SIGTERM", "TERM", "sigquit") or number (1..31).
std::optional<int> parse_signal(std::string_view s);

/// "SIGTERM" for 15 ("SIG15" for a number without a name).
std::string signal_name(int sig);

/// `limits:` of a service: what its whole process tree may use, measured
/// from /proc every resources interval. Crossing a limit for
/// failure_threshold samples in a row raises resource_exhaustion (high) with
/// the service as component; success_threshold samples below clear it.
struct service_limits {
  std::optional<uint64_t> memory;  ///< bytes of resident memory (RSS summed over the tree)
  std::optional<double> cpu;       ///< percent of one core (150 = one and a half cores)
  std::optional<uint64_t> fds;     ///< open file descriptors summed over the tree
  uint32_t failure_threshold = 3;
  uint32_t success_threshold = 3;
  bool any() const { return memory || cpu || fds; }
};

struct service_config {
  std::string name;
  std::vector<std::string> command;  ///< argv; empty = unmanaged (checks only)
  std::map<std::string, std::string> env;
  std::string working_dir;
  int stop_signal = 15;              ///< sent (after SIGCONT) to stop it; SIGKILL after stop_grace
  std::string user;                  ///< run as this user ("" = faultd's own)
  std::string group;                 ///< and group ("" = the user's primary group)
  uint64_t log_max_size = 10ull << 20; ///< <data_dir>/logs/<name>.log rotated past this size
  uint32_t log_keep = 3;             ///< rotated files kept (<name>.log.1 .. .N)
  service_limits limits;
  restart_config restart;
  std::vector<check_config> checks;
  /// Started after these are ready (see ready_after).
  std::vector<std::string> depends_on;
  /// A service is ready for the services that depend on it once its checks
  /// pass, or once it has run this long, whichever comes first.
  duration ready_after = seconds_d(1);
  /// The node that runs this managed service (its home); "" = every node.
  /// Others run it only once a failover placed it there (placement/<name>).
  std::string node;
  std::string backup_node;
  /// `failback: auto`: the home takes the service back by itself once it
  /// has seen it run elsewhere for `failback_after` with a quorum.
  bool failback_auto = false;
  duration failback_after = seconds_d(30);
  /// The node this service runs on when it is not this one (a service
  /// faultd only checks, e.g. over TCP): its faults are explained by that
  /// node's incident when the node is dead. "" = this node.
  std::string runs_on;
  std::vector<std::string> degradation_levels{"full", "reduced", "basic", "minimal"};
};

/// A threshold with hysteresis for one resource.
struct resource_threshold {
  double warning = 0;    ///< >= this: medium severity
  double critical = 0;   ///< >= this: critical severity
  uint32_t failure_threshold = 3;
  uint32_t success_threshold = 3;
  bool enabled = true;
};

struct resources_config {
  bool enabled = true;
  duration interval = seconds_d(5);
  resource_threshold cpu{90, 98, 3, 3, true};         ///< percent busy
  resource_threshold memory{90, 97, 3, 3, true};      ///< percent used
  resource_threshold disk{90, 97, 3, 3, true};        ///< percent used of data_dir's fs
  resource_threshold load{0, 0, 3, 3, false};         ///< 1-minute load per core
  resource_threshold fds{80, 95, 3, 3, true};         ///< percent of RLIMIT_NOFILE used by faultd
  std::vector<std::string> disk_paths;                ///< default: data_dir
};

struct security_config {
  bool enabled = true;
  duration interval = seconds_d(30);
  std::vector<std::string> watch_files;   ///< SHA-256 watched
  std::vector<std::string> certificates;  ///< PEM files checked for expiry
  duration cert_warning = std::chrono::hours(24 * 14);
  duration cert_critical = std::chrono::hours(24 * 2);
};

struct fault_detection_config {
  duration detection_interval = seconds_d(30);
  uint32_t event_retention_hours = 24;
  uint32_t alert_threshold = 5;        ///< events in one incident that raise its alert even below high
  duration dedup_window = seconds_d(60);
  uint32_t flap_threshold = 5;         ///< open/close cycles within flap_window that mark flapping
  duration flap_window = seconds_d(300);
  duration auto_close_after = seconds_d(300); ///< incidents with no clearing signal close after this quiet time
  resources_config resources;
  security_config security;
};

struct recovery_config {
  duration max_recovery_time = seconds_d(300);
  duration strategy_selection_timeout = seconds_d(30);
  duration action_execution_timeout = seconds_d(60);
  bool rollback_enabled = true;
  /// Recoveries running at once in the whole cluster (0 = no limit): the
  /// others wait in claim order (recovery/budget.hpp).
  uint32_t max_concurrent_cluster = 0;
  /// Under that budget, each recovery starts after a random delay in
  /// [0, cluster_jitter), so those let through together do not act in
  /// the same instant.
  duration cluster_jitter = millis_d(250);
};

/// state_sync: how the replicated map spreads (replica/engine.hpp).
struct state_sync_config {
  duration sync_interval = seconds_d(10);  ///< one anti-entropy exchange per interval
  uint64_t max_message_size = 1048576;     ///< a state message's size limit (chunks)
  uint32_t retry_count = 3;                ///< resends of an unacknowledged chunk
  duration timeout = seconds_d(30);        ///< before a chunk is sent again
  uint32_t fanout = 3;                     ///< peers a fresh write is pushed to
  /// How long a delete is remembered (a node away for longer may bring the
  /// key back).
  duration tombstone_grace = seconds_d(86400);
};

struct alerting_config {
  bool log = true;
  fault_severity min_severity = fault_severity::high;
  std::vector<std::string> webhooks;   ///< URLs a JSON notice is POSTed to
  std::string alertmanager_url;        ///< base URL; alerts go to <url>/api/v2/alerts
  duration timeout = seconds_d(5);     ///< one delivery attempt
  uint32_t retries = 5;                ///< retries after a failed attempt
  duration retry_delay = seconds_d(1); ///< first backoff, doubling (at most 1m)
  uint32_t queue_size = 1000;          ///< deliveries queued per sink at most
  /// A group (component + fault type) that fired is not sent again within
  /// this time (a flapping service pages once).
  duration repeat_interval = seconds_d(3600);
  std::optional<endpoint> mqtt_broker;   ///< set: alerts and incidents are published there
  std::string mqtt_topic = "faultd/alerts";             ///< alerts (QoS 1)
  std::string mqtt_incident_topic = "faultd/incidents"; ///< incident events (QoS 1)
  std::string mqtt_username;            ///< "" = none
  std::string mqtt_password;
};

/// One devices.topics entry: a pattern with +device (and +gateway) levels,
/// and bounds of its own where it sets them (else the section's).
struct device_topic {
  std::string pattern;
  std::optional<duration> min_interval;
  std::optional<duration> max_silence;
};

/// devices.sleep.schedule: a daily window, in the node's local time, in
/// which the devices matching `devices` sleep and are not judged.
struct device_sleep_window {
  std::vector<std::string> devices;  ///< globs on device ids
  int from_minute = 0;               ///< minutes after local midnight
  int to_minute = 0;                 ///< below from_minute: over midnight
};

/// devices: silent-device detection from MQTT traffic (off unless a broker
/// is set).
struct devices_config {
  std::optional<endpoint> broker;
  std::vector<device_topic> topics;
  /// Sleep announcements (retained or not): patterns with a +device level;
  /// the payload says how long, or until when, the device sleeps.
  std::vector<std::string> sleep_topics;
  std::vector<device_sleep_window> sleep_schedule;
  double phi_threshold = 8.0;
  duration min_interval = millis_d(0);    ///< shorter intervals are not learned
  std::optional<duration> max_silence;    ///< silent after this whatever the rhythm
  uint32_t min_samples = 3;               ///< intervals seen before phi judges a device
  fault_severity severity = fault_severity::medium;
  std::string username;
  std::string password;
  /// This share of one gateway's devices silent at once is one incident on
  /// gateway:<id> (high) that explains their faults.
  double gateway_silence_ratio = 0.5;
  uint32_t gateway_min_devices = 3;  ///< a gateway with fewer devices is never judged
};

/// metrics: the Prometheus endpoint (/metrics, /healthz); off unless set.
struct metrics_config {
  std::optional<endpoint> listen;
};

struct storage_config {
  std::string path;  ///< default: <data_dir>/faultd.db
  duration busy_timeout = seconds_d(5);
};

struct config {
  std::string source = "<embedded default>";  ///< file the config came from
  node_config node;
  cluster_config cluster;
  std::vector<service_config> services;
  fault_detection_config fault_detection;
  recovery_config recovery;
  state_sync_config state_sync;
  std::map<std::string, recovery_strategy> strategies;  ///< by id
  alerting_config alerting;
  storage_config storage;
  metrics_config metrics;
  devices_config devices;

  /// The sqlite file: storage.path or <data_dir>/faultd.db.
  std::string db_path() const;
  /// Finds a service by name (nullptr if none).
  const service_config* find_service(const std::string& name) const;
};

/// A config error: where and what. `to_string()` is "file:line: message"
/// ("file: message" when the line is 0, e.g. "--listen: bad endpoint ...").
struct config_error {
  std::string file;
  int line = 0;        ///< 1-based; 0 if unknown
  std::string message; ///< names the offending key or value
  std::string to_string() const;
};

/// Either a config or the first error found.
struct config_result {
  std::optional<config> value;
  std::optional<config_error> error;
  explicit operator bool() const { return value.has_value(); }
};

/// How much a parse checks beyond the text itself.
struct parse_options {
  /// Also check what the config names on this machine: every service's
  /// program exists (looked up in PATH like exec does) and is executable,
  /// every working_dir exists. faultd and --check-config do; tests of the
  /// text alone do not.
  bool check_environment = false;
  /// Action types an embedding application registers by name (its
  /// executors, executor_registry::add_custom): a strategy's `type:` may
  /// name them. Names of built-in types are not taken from here.
  std::set<std::string> action_types;
  /// Check types an embedding application registers by name (its check
  /// functions, extensions::checks in faultd/embed.hpp): a check's `type:`
  /// may name them. Names of built-in types are not taken from here.
  std::set<std::string> check_types;
};

/// Parses YAML text; `file` is used in error messages only.
config_result parse_config(const std::string& yaml, const std::string& file,
                           const parse_options& opts = {});

/// Reads and parses a file (an unreadable file or a directory is an error at
/// line 0).
config_result load_config_file(const std::string& path, const parse_options& opts = {});

/// The embedded default config's YAML text (one node, loopback, ./faultd-data,
/// the built-in strategies).
const std::string& default_config_yaml();

/// The built-in strategies (network_timeout, service_unavailable,
/// resource_exhaustion, as the seed defines them); a file's `strategies`
/// entries with the same id override them.
std::map<std::string, recovery_strategy> builtin_strategies();

/// Command-line overrides applied after loading.
struct config_overrides {
  std::optional<std::string> node_id;
  std::optional<std::string> listen;     ///< HOST:PORT
  std::optional<std::string> control;    ///< unix:PATH | HOST:PORT
  std::optional<std::string> seeds;      ///< H:P,H:P
  std::optional<std::string> data_dir;
};

/// Reads a token file (node.control_token_file, faultctl --token-file): its
/// first line without surrounding whitespace. Errors name the file: missing,
/// not a regular file, readable or writable by others, empty, or a token
/// shorter than 16 characters.
status read_token_file(const std::string& path, std::string& token);

/// The rule of the peer port (README, "Ports and trust"): seeds need a
/// peer port, and a peer port off loopback needs TLS unless
/// insecure_plaintext says otherwise. "" if `cfg` keeps it; else what is
/// wrong, and in `key` the key to name ("node.listen", "cluster.seeds").
std::string peer_port_problem(const config& cfg, std::string* key = nullptr);

/// Applies overrides; an unparsable value gives an error naming the flag
/// (file = "--listen" etc., line 0) and leaves `cfg` unchanged. `seeds` ""
/// clears the seed list.
std::optional<config_error> apply_overrides(config& cfg, const config_overrides& o);

} // namespace faultd
