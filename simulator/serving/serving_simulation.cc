#include "simulator/serving/serving_simulation.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <deque>
#include <filesystem>
#include <memory>
#include <sstream>

#include "hardware/kernel_harness.h"
#include "policies/batch_scheduler.h"
#include "policies/request_router.h"
#include "simulator/core/engine.h"
#include "simulator/core/strings.h"
#include "simulator/serving/iteration_cost.h"
#include "simulator/serving/kv_cache.h"

namespace echosim {
namespace {

// Iteration spans written to timeline.json at most (counters are always written).
constexpr int64_t kMaxTimelineSpans = 200'000;

enum EventType : uint32_t { kArrival = 0, kIterationDone = 1, kTransferDone = 2, kSample = 3, kKick = 4 };

// A request alive in the cluster: the scheduler's view plus where it runs.
struct LiveRequest : ServingSequence {
  int32_t replica = -1;          // replica holding it now
  int32_t first_replica = -1;    // replica that produced its first token
  int32_t output_target = 0;     // output tokens of the whole request
  int32_t cached_tokens = 0;
};

struct Replica {
  int32_t index = 0;
  bool prefill_pool = false;  // disaggregated: stops each request after its first token
  std::unique_ptr<BatchScheduler> scheduler;
  std::unique_ptr<PagedKvCache> kv;
  SchedulerQueues queues;
  IterationPlan plan;
  bool busy = false;
  bool kick_pending = false;  // an iteration start is scheduled at the current time
  int32_t outstanding = 0;
  int32_t transfers_out = 0;  // finished prefills whose KV is still being sent
  Time iteration_start = 0;
};

class FileWriter {
 public:
  ~FileWriter() {
    if (f_ != nullptr) std::fclose(f_);
  }
  Status Open(const std::filesystem::path& p) {
    f_ = std::fopen(p.string().c_str(), "wb");
    if (f_ == nullptr) return InvalidArgument(StrCat("--out: cannot write '", p.string(), "'"));
    return Status::Ok();
  }
  FILE* get() const { return f_; }
  Status Close(const std::filesystem::path& p) {
    if (f_ == nullptr) return Status::Ok();
    const bool bad = std::ferror(f_) != 0;
    const bool close_failed = std::fclose(f_) != 0;
    f_ = nullptr;
    if (bad || close_failed) return Internal(StrCat("failed writing '", p.string(), "'"));
    return Status::Ok();
  }

 private:
  FILE* f_ = nullptr;
};

class Simulation : public EventHandler {
 public:
  Simulation(ServingResult* result, std::unique_ptr<RequestSource> source,
             std::unique_ptr<IterationCostModel> cost, const RequestObserver& observer)
      : r_(result), cfg_(result->config), source_(std::move(source)), cost_(std::move(cost)),
        observer_(observer), metrics_(result->metrics) {}

  Status Init() {
    kind_ = engine_.RegisterHandler(this);
    const ReplicaConfig& rc = cfg_.replica;
    limits_.max_num_seqs = rc.max_num_seqs;
    limits_.max_batched_tokens = rc.max_batched_tokens;
    limits_.max_model_len = rc.max_model_len;
    const int32_t n = cfg_.total_replicas();
    replicas_.resize(static_cast<size_t>(n));
    for (int32_t i = 0; i < n; ++i) {
      Replica& rep = replicas_[static_cast<size_t>(i)];
      rep.index = i;
      rep.prefill_pool = cfg_.disaggregated() && i < cfg_.prefill_replicas;
      ECHOSIM_ASSIGN_OR_RETURN(rep.scheduler, MakeBatchScheduler(rc.scheduler));
      rep.kv = std::make_unique<PagedKvCache>(r_->kv.blocks, rc.block_size_tokens, rc.prefix_caching);
    }
    ECHOSIM_ASSIGN_OR_RETURN(router_, MakeRouter(cfg_.router));
    ECHOSIM_ASSIGN_OR_RETURN(decode_router_, MakeRouter(cfg_.router));
    if (cfg_.disaggregated()) {
      for (int32_t i = 0; i < cfg_.prefill_replicas; ++i) prefill_pool_.push_back(i);
      for (int32_t i = cfg_.prefill_replicas; i < n; ++i) decode_pool_.push_back(i);
    } else {
      for (int32_t i = 0; i < n; ++i) prefill_pool_.push_back(i);
    }
    transfer_topology_ = std::make_unique<Topology>(cfg_.network);
    transfer_model_ = std::make_unique<AnalyticCollectiveModel>(transfer_topology_.get());
    const double layers = static_cast<double>((rc.model.layers + rc.inference.pp - 1) / rc.inference.pp);
    kv_bytes_per_token_per_gpu_ = KvBytesPerTokenPerLayer(rc.model, rc.inference) * layers;
    sample_interval_ = SecondsToDuration(
        cfg_.sample_interval_s > 0
            ? cfg_.sample_interval_s
            : (cfg_.workload_options.duration_s > 0 ? std::max(0.01, cfg_.workload_options.duration_s / 2000.0) : 1.0));
    if (!cfg_.out_dir.empty()) ECHOSIM_RETURN_IF_ERROR(OpenOutputs());
    return Status::Ok();
  }

  Status Run() {
    ECHOSIM_RETURN_IF_ERROR(FetchNext());
    engine_.ScheduleAt(0, kind_, 0, kSample);
    engine_.Run();
    if (!error_.ok()) return error_;
    // Every arrival completed or was rejected; every replica drained.
    ECHOSIM_CHECK(arrived_ == metrics_.completed() + metrics_.rejected());
    for (const Replica& rep : replicas_) {
      ECHOSIM_CHECK(!rep.busy && !rep.kick_pending && rep.queues.waiting.empty() && rep.queues.running.empty());
      ECHOSIM_CHECK(rep.kv->used_blocks() == 0 || rep.kv->prefix_caching());
      r_->kv_evictions += rep.kv->evictions();
    }
    r_->simulated_s = DurationToSeconds(last_completion_);
    r_->events = engine_.events_processed();
    r_->skipped_lines = source_->skipped_lines();
    r_->skip_messages = source_->skip_messages();
    return CloseOutputs();
  }

  void OnEvent(Engine& engine, const Event& e) override {
    if (!error_.ok()) return;
    switch (e.aux) {
      case kArrival: OnArrival(); break;
      case kIterationDone: OnIterationDone(replicas_[e.payload]); break;
      case kTransferDone: OnTransferDone(reinterpret_cast<LiveRequest*>(e.payload)); break;
      case kSample: OnSample(); break;
      case kKick: {
        Replica& rep = replicas_[e.payload];
        rep.kick_pending = false;
        if (!rep.busy) StartIteration(rep);
        break;
      }
    }
    if (!error_.ok()) engine.Stop();
  }

 private:
  // --- Arrivals ------------------------------------------------------------------------
  Status FetchNext() {
    auto more = source_->Next(&pending_);
    if (!more.ok()) return more.status();
    has_pending_ = *more;
    if (has_pending_) engine_.ScheduleAt(std::max(pending_.arrival, engine_.Now()), kind_, 0, kArrival);
    return Status::Ok();
  }

  void OnArrival() {
    const Request req = pending_;
    ++arrived_;
    // The next arrival is scheduled first, so arrivals at this same instant are handled
    // before any replica starts an iteration.
    Status st = FetchNext();
    if (!st.ok()) {
      error_ = st;
      return;
    }
    if (req.input_tokens + 1 > limits_.max_model_len) {
      RequestRecord rec;
      rec.id = req.id;
      rec.arrival_s = DurationToSeconds(req.arrival);
      rec.input_tokens = req.input_tokens;
      rec.output_tokens = req.output_tokens;
      rec.rejected = true;
      rec.reason = "prompt_exceeds_max_model_len";
      Finish(rec);
    } else {
      LiveRequest* s = NewRequest();
      s->id = req.id;
      s->arrival = req.arrival;
      s->prompt_tokens = req.input_tokens;
      s->output_target = req.output_tokens;
      if (req.input_tokens + req.output_tokens > limits_.max_model_len) {
        s->output_target = limits_.max_model_len - req.input_tokens;
        ++r_->truncated_outputs;
      }
      s->max_output_tokens = s->output_target;
      s->prefix_group = req.prefix_group;
      s->prefix_tokens = req.prefix_tokens;
      const size_t target = Route(*router_, prefill_pool_, *s);
      Enqueue(s, target);
    }
  }

  size_t Route(Router& router, const std::vector<int32_t>& pool, const LiveRequest& s) {
    loads_.resize(pool.size());
    for (size_t i = 0; i < pool.size(); ++i) {
      const Replica& rep = replicas_[static_cast<size_t>(pool[i])];
      ReplicaLoad& l = loads_[i];
      l.outstanding_requests = rep.outstanding;
      l.kv_used_blocks = rep.kv->used_blocks();
      l.kv_total_blocks = rep.kv->total_blocks();
      l.kv_block_tokens = rep.kv->block_size_tokens();
      l.queued_prompt_tokens = 0;
      if (cfg_.router == "least_kv") {
        for (const ServingSequence* w : rep.queues.waiting) l.queued_prompt_tokens += w->remaining_tokens();
      }
    }
    RouteQuery q;
    q.request_id = s.id;
    q.prefix_group = s.prefix_group;
    q.prompt_tokens = s.prompt_tokens;
    const size_t pick = router.Route(q, loads_);
    ECHOSIM_CHECK(pick < pool.size());
    return static_cast<size_t>(pool[pick]);
  }

  void Enqueue(LiveRequest* s, size_t replica) {
    Replica& rep = replicas_[replica];
    s->replica = static_cast<int32_t>(replica);
    // A prefill-pool replica produces the first token only.
    s->max_output_tokens = rep.prefill_pool ? 1 : s->output_target;
    rep.queues.waiting.push_back(s);
    ++rep.outstanding;
    // Start at the current time, after every other event of this instant (so requests that
    // arrive together are scheduled together).
    if (!rep.busy && !rep.kick_pending) {
      rep.kick_pending = true;
      engine_.ScheduleAfter(0, kind_, static_cast<uint64_t>(rep.index), kKick);
    }
  }

  // --- Iterations ------------------------------------------------------------------------
  void StartIteration(Replica& rep) {
    for (;;) {
      rep.scheduler->Schedule(limits_, &rep.queues, rep.kv.get(), &rep.plan);
      for (ServingSequence* seq : rep.plan.rejected) {
        LiveRequest* s = static_cast<LiveRequest*>(seq);
        --rep.outstanding;
        RequestRecord rec = Record(*s);
        rec.rejected = true;
        rec.reason = s->prompt_tokens + s->output_target > limits_.max_model_len
                         ? "exceeds_max_model_len"
                         : "exceeds_kv_capacity";
        Finish(rec);
        Free(s);
      }
      if (!rep.plan.work.empty()) break;
      if (rep.plan.rejected.empty()) {
        // Progress: a scheduler must plan work or reject while anything waits or runs.
        // (A prefill replica may wait for its outgoing KV transfers to free blocks.)
        ECHOSIM_CHECK_MSG((rep.queues.waiting.empty() || rep.transfers_out > 0) && rep.queues.running.empty(),
                          StrCat("scheduler '", rep.scheduler->name(), "' made no progress on replica ",
                                 rep.index, " with ", rep.queues.waiting.size(), " waiting and ",
                                 rep.queues.running.size(), " running"));
        rep.busy = false;
        return;
      }
    }
    const Time now = engine_.Now();
    BatchWork w;
    for (const ScheduledWork& sw : rep.plan.work) {
      ServingSequence* seq = sw.seq;
      const int64_t c = seq->computed_tokens;
      const int64_t n = sw.new_tokens;
      ECHOSIM_CHECK(n >= 1 && c + n <= seq->num_tokens());
      w.tokens += n;
      ++w.seqs;
      if (c + n == seq->num_tokens()) ++w.sampled;
      if (seq->is_decode()) {
        ++w.attention.decode_tokens;
        w.attention.decode_context_tokens += static_cast<double>(c + 1);
      } else {
        w.attention.prefill_tokens += n;
        w.attention.prefill_pairs += static_cast<double>(n) * c + 0.5 * static_cast<double>(n) * (n + 1);
        w.attention.prefill_kv_tokens += static_cast<double>(c + n);
      }
      if (seq->first_scheduled == kTimeInfinity) {
        seq->first_scheduled = now;
        ++w.new_requests;
      }
    }
    const IterationPlan& p = rep.plan;
    if (p.padded_seqs > 0) {
      // Request-level batching computes every member padded to the longest.
      const double ps = p.padded_seqs, pn = p.padded_new_tokens, pc = p.padded_context;
      const int64_t new_requests = w.new_requests;
      w = BatchWork();
      w.new_requests = new_requests;
      w.seqs = p.padded_seqs;
      w.sampled = p.padded_seqs;
      w.tokens = static_cast<int64_t>(ps * pn);
      if (p.padded_new_tokens == 1 && p.padded_context > 0) {
        w.attention.decode_tokens = p.padded_seqs;
        w.attention.decode_context_tokens = ps * (pc + 1);
      } else {
        w.attention.prefill_tokens = w.tokens;
        w.attention.prefill_pairs = ps * (pn * pc + 0.5 * pn * (pn + 1));
        w.attention.prefill_kv_tokens = ps * (pc + pn);
      }
    }
    const Duration d = cost_->Total(w);
    metrics_.AddIteration(w.seqs, w.tokens);
    rep.busy = true;
    rep.iteration_start = now;
    if (timeline_.get() != nullptr && spans_ < kMaxTimelineSpans) {
      ++spans_;
      std::fprintf(timeline_.get(),
                   ",\n{\"name\":\"%s\",\"ph\":\"X\",\"pid\":%d,\"tid\":0,\"ts\":%.3f,\"dur\":%.3f,"
                   "\"args\":{\"seqs\":%lld,\"tokens\":%lld,\"prefill_tokens\":%lld,\"decode_seqs\":%lld}}",
                   w.attention.prefill_tokens > 0 ? (w.attention.decode_tokens > 0 ? "mixed" : "prefill")
                                                  : "decode",
                   rep.index, DurationToMicros(now), DurationToMicros(d), static_cast<long long>(w.seqs),
                   static_cast<long long>(w.tokens), static_cast<long long>(w.attention.prefill_tokens),
                   static_cast<long long>(w.attention.decode_tokens));
    }
    engine_.ScheduleAfter(d, kind_, static_cast<uint64_t>(rep.index), kIterationDone);
  }

  void OnIterationDone(Replica& rep) {
    const Time now = engine_.Now();
    bool any_done = false;
    for (const ScheduledWork& sw : rep.plan.work) {
      LiveRequest* s = static_cast<LiveRequest*>(sw.seq);
      s->computed_tokens += sw.new_tokens;
      if (s->computed_tokens < s->num_tokens()) continue;
      ++s->generated_tokens;
      if (s->first_token == kTimeInfinity) {
        s->first_token = now;
        s->first_replica = rep.index;
        s->cached_tokens = s->cached_prompt_tokens;
      } else {
        const double itl = DurationToSeconds(now - s->last_token);
        metrics_.AddItl(itl);
        s->max_itl_s = std::max(s->max_itl_s, itl);
      }
      s->last_token = now;
      if (s->finished()) any_done = true;
    }
    if (any_done) {
      auto& running = rep.queues.running;
      size_t out = 0;
      for (size_t i = 0; i < running.size(); ++i) {
        LiveRequest* s = static_cast<LiveRequest*>(running[i]);
        if (!s->finished()) {
          running[out++] = s;
          continue;
        }
        if (s->generated_tokens < s->output_target) {
          StartTransfer(rep, s);  // disaggregated: first token done, decode elsewhere
        } else {
          rep.kv->Release(s);
          --rep.outstanding;
          Complete(s, now);
        }
      }
      running.resize(out);
    }
    StartIteration(rep);
  }

  // --- Disaggregation: KV transfer from a prefill to a decode replica ---------------------
  void StartTransfer(Replica& from, LiveRequest* s) {
    // Each GPU of the prefill replica sends its shard of the prompt's KV to its counterpart
    // in the decode replica, across nodes, all in parallel.
    GroupShape pair;
    pair.size = 2;
    pair.nodes = 2;
    pair.per_node = 1;
    const double bytes = kv_bytes_per_token_per_gpu_ * s->prompt_tokens;
    const Duration d = transfer_model_->Estimate(CollectiveKind::kSendRecv, bytes, pair);
    ++r_->kv_transfers;
    ++from.transfers_out;
    r_->kv_transfer_s_sum += DurationToSeconds(d);
    s->replica = from.index;
    engine_.ScheduleAfter(d, kind_, reinterpret_cast<uint64_t>(s), kTransferDone);
  }

  void OnTransferDone(LiveRequest* s) {
    Replica& from = replicas_[static_cast<size_t>(s->replica)];
    from.kv->Release(s);
    --from.outstanding;
    --from.transfers_out;
    if (!from.busy && !from.kick_pending && !from.queues.waiting.empty()) {
      from.kick_pending = true;
      engine_.ScheduleAfter(0, kind_, static_cast<uint64_t>(from.index), kKick);
    }
    // The decode replica holds the prompt's KV; the first output token still needs its KV.
    s->computed_tokens = 0;
    s->transferred_tokens = s->prompt_tokens;
    const size_t target = Route(*decode_router_, decode_pool_, *s);
    Enqueue(s, target);
  }

  // --- Samples of KV use and queues ----------------------------------------------------------
  void OnSample() {
    const Time now = engine_.Now();
    double used = 0;
    int64_t running = 0, waiting = 0;
    for (const Replica& rep : replicas_) {
      used += static_cast<double>(rep.kv->used_blocks()) / static_cast<double>(rep.kv->total_blocks());
      running += static_cast<int64_t>(rep.queues.running.size());
      waiting += static_cast<int64_t>(rep.queues.waiting.size());
    }
    const double util = used / static_cast<double>(replicas_.size());
    metrics_.AddKvSample(util);
    if (series_.get() != nullptr) {
      std::fprintf(series_.get(), "%.6f,%.6f,%lld,%lld\n", DurationToSeconds(now), util,
                   static_cast<long long>(running), static_cast<long long>(waiting));
    }
    if (timeline_.get() != nullptr) {
      std::fprintf(timeline_.get(),
                   ",\n{\"name\":\"cluster\",\"ph\":\"C\",\"pid\":%d,\"ts\":%.3f,"
                   "\"args\":{\"kv_utilization\":%.6f,\"running\":%lld,\"waiting\":%lld}}",
                   static_cast<int>(replicas_.size()), DurationToMicros(now), util,
                   static_cast<long long>(running), static_cast<long long>(waiting));
    }
    bool work = has_pending_;
    for (const Replica& rep : replicas_) work = work || rep.busy || !rep.queues.waiting.empty();
    if (work || engine_.pending() > 0) engine_.ScheduleAfter(sample_interval_, kind_, 0, kSample);
  }

  // --- Completion and records --------------------------------------------------------------
  RequestRecord Record(const LiveRequest& s) const {
    RequestRecord rec;
    rec.id = s.id;
    rec.replica = s.first_replica >= 0 ? s.first_replica : s.replica;
    rec.decode_replica = s.replica;
    rec.arrival_s = DurationToSeconds(s.arrival);
    rec.input_tokens = s.prompt_tokens;
    rec.output_tokens = s.output_target;
    rec.cached_tokens = s.cached_tokens;
    rec.preemptions = s.preemptions;
    return rec;
  }

  void Complete(LiveRequest* s, Time now) {
    RequestRecord rec = Record(*s);
    rec.output_tokens = s->generated_tokens;
    rec.queue_s = DurationToSeconds(s->first_scheduled - s->arrival);
    rec.ttft_s = DurationToSeconds(s->first_token - s->arrival);
    rec.e2e_s = DurationToSeconds(s->last_token - s->arrival);
    rec.tpot_s = s->generated_tokens > 1 ? (rec.e2e_s - rec.ttft_s) / (s->generated_tokens - 1) : 0.0;
    rec.max_itl_s = s->max_itl_s;
    last_completion_ = std::max(last_completion_, now);
    Finish(rec);
    Free(s);
  }

  void Finish(const RequestRecord& rec) {
    metrics_.AddRequest(rec);
    if (rec.rejected) last_completion_ = std::max(last_completion_, engine_.Now());
    if (requests_.get() != nullptr) {
      std::fprintf(requests_.get(), "%llu,%.9f,%d,%d,%d,%d,%d,%.9f,%.9f,%.9f,%.9f,%.9f,%d,%s,%s\n",
                   static_cast<unsigned long long>(rec.id), rec.arrival_s, rec.replica, rec.decode_replica,
                   rec.input_tokens, rec.output_tokens, rec.cached_tokens, rec.queue_s, rec.ttft_s,
                   rec.tpot_s, rec.e2e_s, rec.max_itl_s, rec.preemptions,
                   rec.rejected ? "rejected" : "completed", rec.reason.c_str());
    }
    if (observer_) observer_(rec);
  }

  LiveRequest* NewRequest() {
    LiveRequest* s;
    if (!free_.empty()) {
      s = free_.back();
      free_.pop_back();
      std::vector<int32_t> table = std::move(s->block_table);
      *s = LiveRequest();
      s->block_table = std::move(table);
      s->block_table.clear();
    } else {
      storage_.emplace_back();
      s = &storage_.back();
    }
    return s;
  }
  void Free(LiveRequest* s) { free_.push_back(s); }

  // --- Output files --------------------------------------------------------------------------
  Status OpenOutputs() {
    namespace fs = std::filesystem;
    std::error_code ec;
    fs::create_directories(cfg_.out_dir, ec);
    if (ec) return InvalidArgument(StrCat("--out: cannot create '", cfg_.out_dir, "': ", ec.message()));
    const fs::path dir(cfg_.out_dir);
    ECHOSIM_RETURN_IF_ERROR(requests_.Open(dir / "requests.csv"));
    std::fprintf(requests_.get(),
                 "id,arrival_s,replica,decode_replica,input_tokens,output_tokens,cached_tokens,queue_s,"
                 "ttft_s,tpot_s,e2e_s,max_itl_s,preemptions,status,reason\n");
    ECHOSIM_RETURN_IF_ERROR(series_.Open(dir / "timeseries.csv"));
    std::fprintf(series_.get(), "time_s,kv_utilization,running,waiting\n");
    if (cfg_.timeline) {
      ECHOSIM_RETURN_IF_ERROR(timeline_.Open(dir / "timeline.json"));
      std::fprintf(timeline_.get(), "{\"displayTimeUnit\":\"ms\",\"traceEvents\":[\n");
      std::fprintf(timeline_.get(), "{\"name\":\"process_name\",\"ph\":\"M\",\"pid\":%d,\"args\":{\"name\":\"cluster\"}}",
                   cfg_.total_replicas());
      for (int32_t i = 0; i < cfg_.total_replicas(); ++i) {
        const bool prefill = cfg_.disaggregated() && i < cfg_.prefill_replicas;
        const bool decode = cfg_.disaggregated() && !prefill;
        std::fprintf(timeline_.get(),
                     ",\n{\"name\":\"process_name\",\"ph\":\"M\",\"pid\":%d,\"args\":{\"name\":\"replica %d%s\"}}",
                     i, i, prefill ? " (prefill)" : (decode ? " (decode)" : ""));
      }
    }
    return Status::Ok();
  }

  Status CloseOutputs() {
    if (cfg_.out_dir.empty()) return Status::Ok();
    namespace fs = std::filesystem;
    const fs::path dir(cfg_.out_dir);
    if (timeline_.get() != nullptr) std::fprintf(timeline_.get(), "\n]}\n");
    ECHOSIM_RETURN_IF_ERROR(requests_.Close(dir / "requests.csv"));
    ECHOSIM_RETURN_IF_ERROR(series_.Close(dir / "timeseries.csv"));
    return timeline_.Close(dir / "timeline.json");
  }

  ServingResult* r_;
  const ServingConfig& cfg_;
  std::unique_ptr<RequestSource> source_;
  std::unique_ptr<IterationCostModel> cost_;
  const RequestObserver& observer_;
  ServingMetrics& metrics_;
  Engine engine_;
  uint32_t kind_ = 0;
  SchedulerLimits limits_;
  std::vector<Replica> replicas_;
  std::vector<int32_t> prefill_pool_, decode_pool_;
  std::unique_ptr<Router> router_, decode_router_;
  std::vector<ReplicaLoad> loads_;
  std::unique_ptr<Topology> transfer_topology_;
  std::unique_ptr<AnalyticCollectiveModel> transfer_model_;
  double kv_bytes_per_token_per_gpu_ = 0;
  Duration sample_interval_ = kSecond;
  Request pending_;
  bool has_pending_ = false;
  int64_t arrived_ = 0;
  Time last_completion_ = 0;
  std::deque<LiveRequest> storage_;
  std::vector<LiveRequest*> free_;
  Status error_;
  FileWriter requests_, series_, timeline_;
  int64_t spans_ = 0;
};

}  // namespace

StatusOr<ServingResult> RunServing(ServingConfig config, const RequestObserver& observer) {
  const auto wall_start = std::chrono::steady_clock::now();
  ECHOSIM_RETURN_IF_ERROR(ResolveServingConfig(&config));
  ServingResult result;
  result.config = config;
  result.metrics = ServingMetrics(SloSpec{config.slo_ttft_ms * 1e-3, config.slo_tpot_ms * 1e-3});
  ECHOSIM_ASSIGN_OR_RETURN(result.kv, SizeKvCache(config.replica));
  const ReplicaConfig& rc = config.replica;
  auto cost = std::make_unique<IterationCostModel>(rc.model, rc.gpu, rc.inference, config.network,
                                                   rc.cpu_overhead_per_iteration_us * 1e-6,
                                                   rc.cpu_overhead_per_seq_us * 1e-6,
                                                   rc.cpu_overhead_per_new_request_us * 1e-6);
  if (config.compute_backend == "gpu") {
    // The kernels of a grid of iteration sizes (and of a few attention works), measured once.
    const int64_t max_tokens = rc.max_batched_tokens > 0 ? rc.max_batched_tokens : rc.max_model_len;
    const std::vector<int64_t> grid = IterationCostModel::MeasurementTokens(max_tokens);
    MeasureOptions mo;
    mo.cache_file = config.kernel_cache;
    auto measured = MeasureKernels(cost->MeasurementOps(grid, rc.max_model_len), mo);
    if (!measured.ok()) {
      return Status(measured.status().code(), StrCat("workload.serving.compute_backend gpu (--compute-backend gpu): ",
                                                     measured.status().message()));
    }
    result.measured_device = measured->times.device;
    result.kernel_shapes = measured->distinct;
    result.kernels_measured = measured->measured;
    result.kernels_from_cache = measured->from_cache;
    ECHOSIM_RETURN_IF_ERROR(cost->UseMeasuredKernels(
        std::make_shared<const MeasuredKernelTimes>(std::move(measured->times)), grid, rc.max_model_len));
  }
  // Floors: one decode of a one-token context, one prefill of a one-token prompt.
  BatchWork decode;
  decode.tokens = decode.sampled = decode.seqs = 1;
  decode.attention.decode_tokens = 1;
  decode.attention.decode_context_tokens = 2;
  result.min_decode_iteration_s = DurationToSeconds(cost->Total(decode));
  BatchWork prefill;
  prefill.tokens = prefill.sampled = prefill.seqs = 1;
  prefill.attention.prefill_tokens = 1;
  prefill.attention.prefill_pairs = 1;
  prefill.attention.prefill_kv_tokens = 1;
  result.min_prefill_s = DurationToSeconds(cost->Total(prefill));
  if (config.slo_tpot_ms > 0 && config.slo_tpot_ms * 1e-3 < result.min_decode_iteration_s) {
    return InvalidArgument(StrCat("--slo-tpot-ms ", config.slo_tpot_ms, " cannot be met: the fastest decode iteration of ",
                                  rc.model.name, " on ", config.gpus_per_replica(), " x ", rc.gpu.name, " takes ",
                                  FormatDouble(result.min_decode_iteration_s * 1e3, 4), " ms"));
  }
  if (config.slo_ttft_ms > 0 && config.slo_ttft_ms * 1e-3 < result.min_prefill_s) {
    return InvalidArgument(StrCat("--slo-ttft-ms ", config.slo_ttft_ms, " cannot be met: even a one-token prompt takes ",
                                  FormatDouble(result.min_prefill_s * 1e3, 4), " ms to its first token on ",
                                  config.gpus_per_replica(), " x ", rc.gpu.name));
  }
  ECHOSIM_ASSIGN_OR_RETURN(auto source, MakeRequestSource(config.workload, config.workload_options));
  Simulation sim(&result, std::move(source), std::move(cost), observer);
  ECHOSIM_RETURN_IF_ERROR(sim.Init());
  ECHOSIM_RETURN_IF_ERROR(sim.Run());
  result.gpu_hours = static_cast<double>(config.total_gpus()) * result.simulated_s / 3600.0;
  result.cost_usd = result.gpu_hours * config.usd_per_gpu_hour;
  result.sim_wall_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start).count();
  return result;
}

nlohmann::json ServingSummaryJson(const ServingResult& r) {
  const ServingMetrics& m = r.metrics;
  const ServingConfig& c = r.config;
  const double t = r.simulated_s > 0 ? r.simulated_s : 1.0;
  nlohmann::json j;
  j["model"] = c.replica.model.name;
  j["gpu"] = c.replica.gpu.name;
  j["tp"] = c.replica.inference.tp;
  j["pp"] = c.replica.inference.pp;
  j["dtype"] = DTypeName(c.replica.inference.dtype);
  j["replicas"] = c.total_replicas();
  if (c.disaggregated()) {
    j["prefill_replicas"] = c.prefill_replicas;
    j["decode_replicas"] = c.decode_replicas;
  }
  j["gpus"] = c.total_gpus();
  j["scheduler"] = c.replica.scheduler;
  j["router"] = c.router;
  j["prefix_caching"] = c.replica.prefix_caching;
  j["max_batch_tokens"] = c.replica.max_batched_tokens;
  j["max_num_seqs"] = c.replica.max_num_seqs;
  j["max_model_len"] = c.replica.max_model_len;
  j["compute_backend"] = c.compute_backend;
  if (!r.measured_device.empty()) {
    j["compute_device"] = r.measured_device;
    j["kernels"] = {{"shapes", r.kernel_shapes}, {"measured", r.kernels_measured},
                    {"from_cache", r.kernels_from_cache}};
  }
  j["workload"] = c.workload;
  j["requests"] = m.arrived();
  j["completed"] = m.completed();
  j["rejected"] = m.rejected();
  nlohmann::json reasons = nlohmann::json::object();
  for (const auto& [why, n] : m.rejections()) reasons[why] = n;
  j["rejected_by_reason"] = reasons;
  j["truncated_outputs"] = r.truncated_outputs;
  j["ttft_s"] = m.ttft().Summary();
  j["tpot_s"] = m.tpot().Summary();
  j["itl_s"] = m.itl().Summary();
  j["e2e_s"] = m.e2e().Summary();
  j["queue_s"] = m.queue().Summary();
  j["input_tokens"] = m.input_tokens();
  j["output_tokens"] = m.output_tokens();
  j["cached_prompt_tokens"] = m.cached_tokens();
  j["prefix_cache_hit_rate"] = m.input_tokens() ? static_cast<double>(m.cached_tokens()) / m.input_tokens() : 0.0;
  j["preemptions"] = m.preemptions();
  j["requests_per_s"] = m.completed() / t;
  j["input_tokens_per_s"] = m.input_tokens() / t;
  j["output_tokens_per_s"] = m.output_tokens() / t;
  j["throughput_tokens_per_s"] = (m.input_tokens() + m.output_tokens()) / t;
  j["slo_ttft_ms"] = c.slo_ttft_ms;
  j["slo_tpot_ms"] = c.slo_tpot_ms;
  j["slo_attainment"] = m.arrived() ? static_cast<double>(m.slo_met()) / m.arrived() : 0.0;
  j["goodput_requests_per_s"] = m.slo_met() / t;
  j["kv_cache_blocks"] = r.kv.blocks;
  j["kv_cache_tokens"] = r.kv.capacity_tokens();
  j["kv_block_size_tokens"] = r.kv.block_size_tokens;
  j["kv_utilization"] = {{"mean", m.kv_utilization().mean()}, {"max", m.kv_utilization().max()}};
  j["kv_evictions"] = r.kv_evictions;
  j["batch_size"] = {{"mean_seqs", m.mean_batch_seqs()}, {"max_seqs", m.max_batch_seqs()},
                     {"mean_tokens", m.mean_batch_tokens()}};
  j["iterations"] = m.iterations();
  if (c.disaggregated()) {
    j["kv_transfers"] = r.kv_transfers;
    j["kv_transfer_s_mean"] = r.kv_transfers ? r.kv_transfer_s_sum / r.kv_transfers : 0.0;
  }
  j["gpu_hours"] = r.gpu_hours;
  if (c.usd_per_gpu_hour > 0) {
    j["usd_per_gpu_hour"] = c.usd_per_gpu_hour;
    j["cost_usd"] = r.cost_usd;
  }
  j["cpu_overhead_per_iteration_us"] = c.replica.cpu_overhead_per_iteration_us;
  j["cpu_overhead_per_seq_us"] = c.replica.cpu_overhead_per_seq_us;
  j["cpu_overhead_per_new_request_us"] = c.replica.cpu_overhead_per_new_request_us;
  j["skipped_trace_lines"] = r.skipped_lines;
  j["events"] = r.events;
  j["simulated_s"] = r.simulated_s;
  j["sim_wall_s"] = r.sim_wall_s;
  return j;
}

std::string ServingSummaryText(const ServingResult& r) {
  const ServingMetrics& m = r.metrics;
  const ServingConfig& c = r.config;
  const double t = r.simulated_s > 0 ? r.simulated_s : 1.0;
  auto ms = [](double s) { return FormatDouble(s * 1e3, 4); };
  auto line = [&](const char* name, const LogHistogram& h) {
    return StrCat("  ", name, " ms      p50 ", ms(h.Percentile(50)), "  p90 ", ms(h.Percentile(90)), "  p99 ",
                  ms(h.Percentile(99)), "  mean ", ms(h.mean()), "\n");
  };
  std::ostringstream o;
  o << "echosim serving: " << c.replica.model.name << " on " << c.total_replicas() << " x (" << c.gpus_per_replica()
    << " x " << c.replica.gpu.name << ", tp " << c.replica.inference.tp << " pp " << c.replica.inference.pp << ")";
  if (c.disaggregated()) o << " [" << c.prefill_replicas << " prefill + " << c.decode_replicas << " decode]";
  o << ", scheduler " << c.replica.scheduler << ", router " << c.router << "\n";
  o << "  workload " << c.workload << "\n";
  o << "  requests " << m.arrived() << " (completed " << m.completed() << ", rejected " << m.rejected() << ")";
  if (r.truncated_outputs) o << ", " << r.truncated_outputs << " outputs cut at max_model_len";
  o << "\n";
  o << line("TTFT", m.ttft()) << line("TPOT", m.tpot()) << line("ITL ", m.itl()) << line("E2E ", m.e2e());
  o << "  throughput " << FormatDouble(m.completed() / t, 5) << " req/s, " << FormatDouble(m.input_tokens() / t, 6)
    << " input tok/s, " << FormatDouble(m.output_tokens() / t, 6) << " output tok/s\n";
  if (m.slo().any()) {
    o << "  SLO attainment " << FormatDouble(100.0 * m.slo_met() / std::max<int64_t>(1, m.arrived()), 4)
      << "% (TTFT <= " << c.slo_ttft_ms << " ms, TPOT <= " << c.slo_tpot_ms << " ms), goodput "
      << FormatDouble(m.slo_met() / t, 5) << " req/s\n";
  }
  o << "  KV cache " << r.kv.capacity_tokens() << " tokens per replica, mean use "
    << FormatDouble(100.0 * m.kv_utilization().mean(), 3) << "%, preemptions " << m.preemptions()
    << ", mean batch " << FormatDouble(m.mean_batch_seqs(), 4) << " seqs\n";
  o << "  GPU-hours " << FormatDouble(r.gpu_hours, 5);
  if (c.usd_per_gpu_hour > 0) o << ", cost $" << FormatDouble(r.cost_usd, 6);
  o << "\n  simulated " << FormatDouble(r.simulated_s, 6) << " s in " << FormatDouble(r.sim_wall_s, 3)
    << " s wall, " << r.events << " events\n";
  if (r.skipped_lines > 0) o << "  skipped " << r.skipped_lines << " malformed trace lines\n";
  return o.str();
}

}  // namespace echosim
