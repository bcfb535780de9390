package diff

// SnapTimeOf exposes snapTime to the external tests.
var SnapTimeOf = snapTime
