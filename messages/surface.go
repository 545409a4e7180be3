package messages

// The reference's cache routes (daemon-api 1.4.10): reachyd's own folders.

// ResetApps removes every installed app (POST /cache/reset-apps). Reply:
// AppsReset, or *Error (409 while an app runs, or an install, update or
// removal is under way).
type ResetApps struct{}

// AppsReset answers ResetApps: how many apps were removed.
type AppsReset struct{ Removed int }

// ClearHFCache empties the Hugging Face hub cache that reachyd reads
// datasets and apps from (POST /cache/clear-hf). Reply: CacheCleared or
// *Error.
type ClearHFCache struct{}

// CacheCleared answers ClearHFCache: how many cached repositories were
// removed.
type CacheCleared struct{ Removed int }
