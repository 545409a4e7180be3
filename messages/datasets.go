package messages

import "time"

// EnsureDataset asks the datasets actor to make a recorded-move dataset
// available on disk, downloading it from the Hugging Face endpoint into the
// hub cache when no dataset folder has it. Concurrent requests for one
// dataset share one download. Reply: DatasetReady, or *Error: NotFound
// (reason "dataset_not_found") when neither the disk nor the Hub has it,
// Unavailable when the Hub cannot be reached or sent something that does
// not check out. The datasets actor answers within DatasetWait.
//
// Refresh also asks the Hub for the dataset's current commit when the
// dataset is on disk, and downloads that commit if it is not the cached
// one, as the reference's preload_dataset (huggingface_hub's
// snapshot_download) does; when the Hub cannot be reached the copy on disk
// is used.
type EnsureDataset struct {
	Dataset string
	Refresh bool
}

// DatasetReady is the reply to EnsureDataset.
type DatasetReady struct {
	Dataset string
	// Path is the folder holding the dataset's files (for the hub cache,
	// the snapshot folder).
	Path string
	// JobID is the download's job, "" when nothing was downloaded.
	JobID string
}

// DatasetWait bounds how long a caller waits for EnsureDataset (and for
// anything that may download a dataset: ListDataset sent to the datasets
// actor, a recorded move's StartMove): a download that has not ended by
// then has failed.
const DatasetWait = 30 * time.Minute

// ErrDatasetNotFound matches (errors.Is) the NotFound errors of a dataset
// that is nowhere: not on disk and, when downloads are on, not on the Hub.
var ErrDatasetNotFound = &Error{Kind: KindNotFound, Reason: "dataset_not_found"}
