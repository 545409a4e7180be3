package messages

// Messages of the media actor: sounds, the speaker and microphone volumes,
// the camera's description, direction of arrival, and the WebRTC producer's
// sessions. Replies that carry nothing are MediaOK.

// MediaOK is the reply of a media command that has nothing to report.
type MediaOK struct{}

// PlaySound plays a sound through the robot's speaker: a name in the sounds
// folder, else a path as given, else a built-in cue. A missing file is only
// logged, as the reference does. Reply: MediaOK or *Error (503 when media
// is off or released).
type PlaySound struct{ File string }

// StopSound stops what PlaySound started. Reply: MediaOK.
type StopSound struct{}

// ClearIncomingAudio drops the audio that consumers sent and the speaker
// has not played yet. Reply: MediaOK.
type ClearIncomingAudio struct{}

// GetVolume reads the speaker's (or the microphone's) volume. Reply: Volume
// or *Error (500 "Failed to get volume", 503 when there is no mixer).
type GetVolume struct{ Microphone bool }

// SetVolume sets the speaker's (or the microphone's) volume, 0..100.
// TestSound plays the confirmation sound afterwards (the reference always
// does on the REST route; reachyd only when asked, upstream #1325). Reply:
// Volume (the value now in effect) or *Error.
type SetVolume struct {
	Microphone bool
	Volume     int
	TestSound  bool
}

// Volume is the reference's VolumeResponse.
type Volume struct {
	Volume   int
	Platform string
	Device   string
}

// PlayTestSound plays the volume panel's test sound. Reply: TestSound.
type PlayTestSound struct{}

// TestSound says whether the test sound played or the device was busy.
type TestSound struct{ Busy bool }

// SetWobbling turns on (or off) the head's following of the level of what
// the robot says. Reply: MediaOK.
type SetWobbling struct{ On bool }

// ListSounds lists the uploaded sounds. Reply: Sounds.
type ListSounds struct{}

// Sounds is the reply to ListSounds: file names, sorted.
type Sounds struct{ Names []string }

// SaveSound keeps an uploaded sound: Temp is a file the gateway wrote in
// the sounds folder's staging area; the media actor probes it, then renames
// it to Name or removes it. Reply: MediaOK or *Error (400 "Unsupported or
// invalid audio file").
type SaveSound struct {
	Name string
	Temp string
}

// DeleteSound removes an uploaded sound. Reply: MediaOK or *Error (404).
type DeleteSound struct{ Name string }

// GetCameraSpecs asks for the camera's description. Reply: CameraSpecs.
type GetCameraSpecs struct{}

// CameraResolution is one mode of the camera.
type CameraResolution struct {
	Name          string
	Width, Height int
	FPS           float64
	CropFactor    float64
}

// CameraSpecs is the reference's /api/camera/specs.
type CameraSpecs struct {
	Name        string
	Resolutions []CameraResolution
	Default     CameraResolution
	K           [3][3]float64
	D           []float64
}

// GetDoA asks where speech comes from. Reply: DoA.
type GetDoA struct{}

// DoA is the direction of arrival of sound: Angle in radians (0 left, pi/2
// front, pi right). Valid is false when no source reports it.
type DoA struct {
	Valid          bool
	Angle          float64
	SpeechDetected bool
}

// ApplyAudioConfig writes parameters of the audio board. Reply:
// AudioConfigApplied or *Error (503 "ReSpeaker audio board not available").
type ApplyAudioConfig struct {
	Params []AudioParam
	Verify bool
}

// AudioParam is one named parameter of the audio board.
type AudioParam struct {
	Name   string
	Values []float64
}

// AudioConfigApplied is the reply to ApplyAudioConfig.
type AudioConfigApplied struct{ Applied bool }

// ReadAudioParameter reads one parameter of the audio board. Reply:
// AudioParam or *Error (404 when it cannot be read, 503 without a board).
type ReadAudioParameter struct{ Name string }

// ListMediaSessions asks who is connected to the WebRTC producer. Reply:
// MediaSessions.
type ListMediaSessions struct{}

// MediaSession is one consumer of the WebRTC producer.
type MediaSession struct {
	ID       string // the signalling session id
	PeerID   string // the consumer's signalling peer id
	Remote   string // the consumer's address (signalling connection)
	State    string // WebRTC connection state
	Audio    bool   // the consumer sends audio to the speaker
	Since    string // RFC 3339
	Relay    bool   // handed over by the central relay
	Pose     bool   // subscribed to the pose channel
	Messages uint64 // data channel messages received
}

// MediaSessions is the reply to ListMediaSessions.
type MediaSessions struct{ Sessions []MediaSession }

// EndMediaSessions ends every session of the producer (or only ID) with a
// reason (the relay's eviction, "local_app_started"). Reply: MediaOK.
type EndMediaSessions struct {
	ID     string
	Reason string
}

// MediaDetail is reachyd's account of its media, in the daemon status
// (the "media" extension) and in /api/media/status beside the
// reference's three fields.
type MediaDetail struct {
	// Reason says why media is off ("" when it is on or only released).
	Reason string
	// Signalling is the WebRTC signalling address (host:port) while the
	// producer runs.
	Signalling string
	Pipelines  []PipelineStatus
	Sessions   []MediaSession
	// SpeakerRMS is the level of what the speaker plays now (dBFS), and
	// SpeakerLoud counts the level reports above -40 dBFS since start:
	// what a test or an operator reads to know the speaker is fed.
	SpeakerRMS  float64
	SpeakerLoud uint64
	Wobbling    bool
	// Sound is the sound playing now ("" when none).
	Sound string
}

// PipelineStatus is one supervised media pipeline.
type PipelineStatus struct {
	Name      string
	Pid       int
	Running   bool
	Restarts  int
	LastError string
}
