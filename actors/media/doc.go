// Package media is the media actor: it owns the robot's camera stream for
// WebRTC, its microphone, its speaker and sound playback, the volume mixer,
// the direction-of-arrival source, and the WebRTC producer that serves
// them on :8443.
package media
