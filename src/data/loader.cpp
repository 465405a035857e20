#include "data/loader.h"

#include <omp.h>

#include <algorithm>
#include <condition_variable>
#include <exception>
#include <map>
#include <mutex>
#include <numeric>
#include <random>
#include <thread>
#include <utility>

#include <torch/torch.h>

#include "core/error.h"
#include "data/rng.h"

namespace vitnas::data {
namespace {

// Stream tag of the epoch permutation; sample positions (the augmentation streams) are smaller.
constexpr uint64_t kPermutationStream = ~uint64_t{0};

}  // namespace

struct DataLoader::Impl {
  std::shared_ptr<const Dataset> dataset;
  TransformOptions transform;
  LoaderOptions opt;
  int64_t per_rank = 0, batches = 0;

  // The current epoch; written only by begin_epoch while no worker runs.
  int64_t epoch = 0;
  bool started = false;
  std::vector<int64_t> order;      // this rank's dataset indices
  std::vector<uint64_t> position;  // their positions in the padded epoch permutation

  std::mutex mutex;
  std::condition_variable work_cv, ready_cv;
  int64_t next_claim = 0, next_return = 0;
  struct Result {
    std::optional<Batch> batch;
    std::exception_ptr error;
  };
  std::map<int64_t, Result> ready;
  bool stop = false;
  std::vector<std::thread> workers;

  // Global positions (rank, rank + world, ...) of the padded permutation and their samples.
  void rank_order(int64_t ep, std::vector<int64_t>& idx, std::vector<uint64_t>& pos) const {
    const int64_t n = dataset->size();
    std::vector<int64_t> perm(static_cast<size_t>(n));
    std::iota(perm.begin(), perm.end(), int64_t{0});
    if (opt.shuffle) {
      std::mt19937_64 rng(mix_seed(opt.seed, static_cast<uint64_t>(ep), kPermutationStream));
      for (int64_t i = n - 1; i > 0; --i)
        std::swap(perm[static_cast<size_t>(i)], perm[static_cast<size_t>(uniform_int(rng, i + 1))]);
    }
    idx.resize(static_cast<size_t>(per_rank));
    pos.resize(static_cast<size_t>(per_rank));
    for (int64_t k = 0; k < per_rank; ++k) {
      const int64_t p = opt.rank + k * opt.world_size;
      idx[static_cast<size_t>(k)] = perm[static_cast<size_t>(p % n)];  // p >= n: padding
      pos[static_cast<size_t>(k)] = static_cast<uint64_t>(p);
    }
  }

  Batch make_batch(int64_t b) const {
    const int64_t k0 = b * opt.batch_size;
    const int64_t count = std::min(opt.batch_size, per_rank - k0);
    const int64_t S = transform.img_size;
    Batch out{torch::empty({count, transform.in_chans, S, S}),
              torch::empty({count}, torch::kInt64), b};
    int64_t* labels = out.labels.data_ptr<int64_t>();
    for (int64_t i = 0; i < count; ++i) {
      const auto k = static_cast<size_t>(k0 + i);
      Sample s = dataset->get(order[k]);
      require(s.label >= 0 && s.label < dataset->num_classes(),
              dataset->name() + ": label " + std::to_string(s.label) + " of sample " +
                  std::to_string(order[k]) + " is out of range");
      std::mt19937_64 rng(mix_seed(opt.seed, static_cast<uint64_t>(epoch), position[k]));
      out.images[i].copy_(data::transform(s.image, transform, rng));
      labels[i] = s.label;
    }
    return out;
  }

  void worker() {
    // One OpenMP thread per worker: the workers are the parallelism; nested teams would
    // oversubscribe the cores.
    omp_set_num_threads(1);
    torch::NoGradGuard no_grad;  // not InferenceMode: its tensors cannot be saved for backward
    std::unique_lock<std::mutex> lock(mutex);
    while (true) {
      work_cv.wait(lock, [&] {
        return stop || (next_claim < batches && next_claim - next_return < opt.prefetch);
      });
      if (stop) return;
      const int64_t b = next_claim++;
      lock.unlock();
      Result r;
      try {
        r.batch = make_batch(b);
      } catch (...) {
        r.error = std::current_exception();
      }
      lock.lock();
      ready.emplace(b, std::move(r));
      ready_cv.notify_all();
    }
  }

  void stop_workers() {
    {
      std::lock_guard<std::mutex> lock(mutex);
      stop = true;
    }
    work_cv.notify_all();
    for (auto& t : workers) t.join();
    workers.clear();
    stop = false;
    ready.clear();
  }
};

DataLoader::DataLoader(std::shared_ptr<const Dataset> dataset, TransformOptions transform,
                       LoaderOptions options)
    : impl_(std::make_unique<Impl>()) {
  TORCH_CHECK(dataset != nullptr, "DataLoader: null dataset");
  validate(transform);
  require(options.batch_size >= 1, "loader: batch_size must be >= 1");
  require(options.world_size >= 1 && options.rank >= 0 && options.rank < options.world_size,
          "loader: rank " + std::to_string(options.rank) + " must be in [0, world_size " +
              std::to_string(options.world_size) + ")");
  require(options.threads >= 0, "loader: threads must be >= 0");
  require(options.prefetch >= 1, "loader: prefetch must be >= 1");
  require(dataset->size() >= 1, "loader: dataset " + dataset->name() + " is empty");
  auto& d = *impl_;
  d.dataset = std::move(dataset);
  d.transform = std::move(transform);
  d.opt = options;
  const int64_t n = d.dataset->size(), w = options.world_size, bs = options.batch_size;
  d.per_rank = (n + w - 1) / w;
  d.batches = options.drop_last ? d.per_rank / bs : (d.per_rank + bs - 1) / bs;
}

DataLoader::~DataLoader() { impl_->stop_workers(); }

void DataLoader::begin_epoch(int64_t epoch, int64_t start_batch) {
  auto& d = *impl_;
  require(epoch >= 0, "loader: epoch must be >= 0");
  require(start_batch >= 0 && start_batch <= d.batches,
          "loader: start batch " + std::to_string(start_batch) + " is outside [0, " +
              std::to_string(d.batches) + "]");
  d.stop_workers();
  d.epoch = epoch;
  d.rank_order(epoch, d.order, d.position);
  d.next_claim = d.next_return = start_batch;
  d.started = true;
  for (int t = 0; t < d.opt.threads; ++t) d.workers.emplace_back([&d] { d.worker(); });
}

std::optional<Batch> DataLoader::next() {
  auto& d = *impl_;
  TORCH_CHECK(d.started, "DataLoader::next: call begin_epoch first");
  if (d.opt.threads == 0) {
    if (d.next_return >= d.batches) return std::nullopt;
    torch::NoGradGuard no_grad;  // not InferenceMode: its tensors cannot be saved for backward
    return d.make_batch(d.next_return++);
  }
  std::unique_lock<std::mutex> lock(d.mutex);
  if (d.next_return >= d.batches) return std::nullopt;
  d.ready_cv.wait(lock, [&] { return d.ready.count(d.next_return) > 0; });
  auto node = d.ready.extract(d.next_return);
  ++d.next_return;
  lock.unlock();
  d.work_cv.notify_all();
  if (node.mapped().error) std::rethrow_exception(node.mapped().error);
  return std::move(node.mapped().batch);
}

int64_t DataLoader::num_batches() const { return impl_->batches; }

int64_t DataLoader::samples_per_rank() const { return impl_->per_rank; }

std::vector<int64_t> DataLoader::epoch_order(int64_t epoch) const {
  std::vector<int64_t> idx;
  std::vector<uint64_t> pos;
  impl_->rank_order(epoch, idx, pos);
  return idx;
}

}  // namespace vitnas::data
