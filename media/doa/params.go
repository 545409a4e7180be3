package doa

// Param describes one control parameter of the XVF3800: where it lives
// (resource and command ids), how many values it has, whether it can be
// read or written, and how its values are encoded.
type Param struct {
	Resource uint8
	Command  uint8
	Count    int
	Access   Access
	Type     Type
}

// Access says what a parameter allows.
type Access uint8

const (
	ro Access = iota + 1 // read only
	rw                   // read and write
	wo                   // write only
)

// Readable and Writable report the access.
func (a Access) Readable() bool { return a == ro || a == rw }
func (a Access) Writable() bool { return a == rw || a == wo }

// Type is how a parameter's values are encoded on the wire.
type Type uint8

const (
	tUint8   Type = iota + 1 // one byte each
	tChar                    // text, one byte per character
	tInt32                   // little-endian two's complement
	tUint32                  // little-endian
	tFloat                   // little-endian IEEE 754 single
	tRadians                 // a float holding an angle
)

// size is the wire size of one value.
func (t Type) size() int {
	if t == tUint8 || t == tChar {
		return 1
	}
	return 4
}

func (t Type) String() string {
	switch t {
	case tUint8:
		return "uint8"
	case tChar:
		return "char"
	case tInt32:
		return "int32"
	case tUint32:
		return "uint32"
	case tFloat:
		return "float"
	case tRadians:
		return "radians"
	}
	return "unknown"
}

// Params are the parameters the Reachy Mini Audio firmware serves, by the
// names XMOS's XVF3800 documentation gives them (its control command
// appendix), with the ids, counts, access and types the reference's audio
// tooling uses (media/audio_control_utils.py). Apps pass these names to
// /api/audio/config/apply and /api/audio/config/parameter/{name}.
var Params = map[string]Param{
	// Resource 48: application (version, build, reboot, configuration).
	"VERSION":             {48, 0, 3, ro, tUint8},
	"BLD_MSG":             {48, 1, 50, ro, tChar},
	"BLD_HOST":            {48, 2, 30, ro, tChar},
	"BLD_REPO_HASH":       {48, 3, 40, ro, tChar},
	"BLD_MODIFIED":        {48, 4, 6, ro, tChar},
	"BOOT_STATUS":         {48, 5, 3, ro, tChar},
	"TEST_CORE_BURN":      {48, 6, 1, rw, tUint8},
	"REBOOT":              {48, 7, 1, wo, tUint8},
	"USB_BIT_DEPTH":       {48, 8, 2, rw, tUint8},
	"SAVE_CONFIGURATION":  {48, 9, 1, wo, tUint8},
	"CLEAR_CONFIGURATION": {48, 10, 1, wo, tUint8},
	// Resource 33: echo canceller (AEC) and beams.
	"SHF_BYPASS":                                {33, 70, 1, rw, tUint8},
	"AEC_NUM_MICS":                              {33, 71, 1, ro, tInt32},
	"AEC_NUM_FARENDS":                           {33, 72, 1, ro, tInt32},
	"AEC_MIC_ARRAY_TYPE":                        {33, 73, 1, ro, tInt32},
	"AEC_MIC_ARRAY_GEO":                         {33, 74, 12, ro, tFloat},
	"AEC_AZIMUTH_VALUES":                        {33, 75, 4, ro, tRadians},
	"TEST_AEC_DISABLE_CONTROL":                  {33, 76, 1, wo, tUint32},
	"AEC_CURRENT_IDLE_TIME":                     {33, 77, 1, ro, tUint32},
	"AEC_MIN_IDLE_TIME":                         {33, 78, 1, ro, tUint32},
	"AEC_RESET_MIN_IDLE_TIME":                   {33, 79, 1, wo, tUint32},
	"AEC_SPENERGY_VALUES":                       {33, 80, 4, ro, tFloat},
	"AEC_FIXEDBEAMSAZIMUTH_VALUES":              {33, 81, 2, rw, tRadians},
	"AEC_FIXEDBEAMSELEVATION_VALUES":            {33, 82, 2, rw, tRadians},
	"AEC_FIXEDBEAMSGATING":                      {33, 83, 1, rw, tUint8},
	"SPECIAL_CMD_AEC_FAR_MIC_INDEX":             {33, 90, 2, wo, tInt32},
	"SPECIAL_CMD_AEC_FILTER_COEFF_START_OFFSET": {33, 91, 1, rw, tInt32},
	"SPECIAL_CMD_AEC_FILTER_COEFFS":             {33, 92, 15, rw, tFloat},
	"SPECIAL_CMD_AEC_FILTER_LENGTH":             {33, 93, 1, ro, tInt32},
	"AEC_FILTER_CMD_ABORT":                      {33, 94, 1, wo, tInt32},
	"AEC_AECPATHCHANGE":                         {33, 0, 1, ro, tInt32},
	"AEC_HPFONOFF":                              {33, 1, 1, rw, tInt32},
	"AEC_AECSILENCELEVEL":                       {33, 2, 2, rw, tFloat},
	"AEC_AECCONVERGED":                          {33, 3, 1, ro, tInt32},
	"AEC_AECEMPHASISONOFF":                      {33, 4, 1, rw, tInt32},
	"AEC_FAR_EXTGAIN":                           {33, 5, 1, rw, tFloat},
	"AEC_PCD_COUPLINGI":                         {33, 6, 1, rw, tFloat},
	"AEC_PCD_MINTHR":                            {33, 7, 1, rw, tFloat},
	"AEC_PCD_MAXTHR":                            {33, 8, 1, rw, tFloat},
	"AEC_RT60":                                  {33, 9, 1, ro, tFloat},
	"AEC_ASROUTONOFF":                           {33, 35, 1, rw, tInt32},
	"AEC_ASROUTGAIN":                            {33, 36, 1, rw, tFloat},
	"AEC_FIXEDBEAMSONOFF":                       {33, 37, 1, rw, tInt32},
	"AEC_FIXEDBEAMNOISETHR":                     {33, 38, 2, rw, tFloat},
	// Resource 35: audio manager (gains, output routing, I2S).
	"AUDIO_MGR_MIC_GAIN":            {35, 0, 1, rw, tFloat},
	"AUDIO_MGR_REF_GAIN":            {35, 1, 1, rw, tFloat},
	"AUDIO_MGR_CURRENT_IDLE_TIME":   {35, 2, 1, ro, tInt32},
	"AUDIO_MGR_MIN_IDLE_TIME":       {35, 3, 1, ro, tInt32},
	"AUDIO_MGR_RESET_MIN_IDLE_TIME": {35, 4, 1, wo, tInt32},
	"MAX_CONTROL_TIME":              {35, 5, 1, ro, tInt32},
	"RESET_MAX_CONTROL_TIME":        {35, 6, 1, wo, tInt32},
	"I2S_CURRENT_IDLE_TIME":         {35, 7, 1, ro, tInt32},
	"I2S_MIN_IDLE_TIME":             {35, 8, 1, ro, tInt32},
	"I2S_RESET_MIN_IDLE_TIME":       {35, 9, 1, wo, tInt32},
	"I2S_INPUT_PACKED":              {35, 10, 1, rw, tUint8},
	"AUDIO_MGR_SELECTED_AZIMUTHS":   {35, 11, 2, ro, tRadians},
	"AUDIO_MGR_SELECTED_CHANNELS":   {35, 12, 2, rw, tUint8},
	"AUDIO_MGR_OP_PACKED":           {35, 13, 2, rw, tUint8},
	"AUDIO_MGR_OP_UPSAMPLE":         {35, 14, 2, rw, tUint8},
	"AUDIO_MGR_OP_L":                {35, 15, 2, rw, tUint8},
	"AUDIO_MGR_OP_L_PK0":            {35, 16, 2, rw, tUint8},
	"AUDIO_MGR_OP_L_PK1":            {35, 17, 2, rw, tUint8},
	"AUDIO_MGR_OP_L_PK2":            {35, 18, 2, rw, tUint8},
	"AUDIO_MGR_OP_R":                {35, 19, 2, rw, tUint8},
	"AUDIO_MGR_OP_R_PK0":            {35, 20, 2, rw, tUint8},
	"AUDIO_MGR_OP_R_PK1":            {35, 21, 2, rw, tUint8},
	"AUDIO_MGR_OP_R_PK2":            {35, 22, 2, rw, tUint8},
	"AUDIO_MGR_OP_ALL":              {35, 23, 12, rw, tUint8},
	"I2S_INACTIVE":                  {35, 24, 1, ro, tUint8},
	"AUDIO_MGR_FAR_END_DSP_ENABLE":  {35, 25, 1, rw, tUint8},
	"AUDIO_MGR_SYS_DELAY":           {35, 26, 1, rw, tInt32},
	"I2S_DAC_DSP_ENABLE":            {35, 27, 1, rw, tUint8},
	// Resource 20: GPIO, LEDs and direction of arrival.
	"GPO_READ_VALUES":      {20, 0, 5, ro, tUint8},
	"GPO_WRITE_VALUE":      {20, 1, 2, wo, tUint8},
	"GPO_PORT_PIN_INDEX":   {20, 2, 2, rw, tUint32},
	"GPO_PIN_VAL":          {20, 3, 3, wo, tUint8},
	"GPO_PIN_ACTIVE_LEVEL": {20, 4, 1, rw, tUint32},
	"GPO_PIN_PWM_DUTY":     {20, 5, 1, rw, tUint8},
	"GPO_PIN_FLASH_MASK":   {20, 6, 1, rw, tUint32},
	"LED_EFFECT":           {20, 12, 1, rw, tUint8},
	"LED_BRIGHTNESS":       {20, 13, 1, rw, tUint8},
	"LED_GAMMIFY":          {20, 14, 1, rw, tUint8},
	"LED_SPEED":            {20, 15, 1, rw, tUint8},
	"LED_COLOR":            {20, 16, 1, rw, tUint32},
	"LED_DOA_COLOR":        {20, 17, 2, rw, tUint32},
	"DOA_VALUE":            {20, 18, 2, ro, tUint32},
	"DOA_VALUE_RADIANS":    {20, 19, 2, ro, tRadians},
	// Resource 17: post-processing (AGC, noise suppression, limiter, echo suppression).
	"PP_CURRENT_IDLE_TIME":                        {17, 70, 1, ro, tUint32},
	"PP_MIN_IDLE_TIME":                            {17, 71, 1, ro, tUint32},
	"PP_RESET_MIN_IDLE_TIME":                      {17, 72, 1, wo, tUint32},
	"SPECIAL_CMD_PP_NLMODEL_NROW_NCOL":            {17, 90, 2, ro, tInt32},
	"SPECIAL_CMD_NLMODEL_START":                   {17, 91, 1, wo, tInt32},
	"SPECIAL_CMD_NLMODEL_COEFF_START_OFFSET":      {17, 92, 1, rw, tInt32},
	"SPECIAL_CMD_PP_NLMODEL":                      {17, 93, 15, rw, tFloat},
	"PP_NL_MODEL_CMD_ABORT":                       {17, 94, 1, wo, tInt32},
	"SPECIAL_CMD_PP_NLMODEL_BAND":                 {17, 95, 1, rw, tUint8},
	"SPECIAL_CMD_PP_EQUALIZATION_NUM_BANDS":       {17, 96, 1, ro, tInt32},
	"SPECIAL_CMD_EQUALIZATION_START":              {17, 97, 1, wo, tInt32},
	"SPECIAL_CMD_EQUALIZATION_COEFF_START_OFFSET": {17, 98, 1, rw, tInt32},
	"SPECIAL_CMD_PP_EQUALIZATION":                 {17, 99, 15, rw, tFloat},
	"PP_EQUALIZATION_CMD_ABORT":                   {17, 100, 1, wo, tInt32},
	"PP_AGCONOFF":                                 {17, 10, 1, rw, tInt32},
	"PP_AGCMAXGAIN":                               {17, 11, 1, rw, tFloat},
	"PP_AGCDESIREDLEVEL":                          {17, 12, 1, rw, tFloat},
	"PP_AGCGAIN":                                  {17, 13, 1, rw, tFloat},
	"PP_AGCTIME":                                  {17, 14, 1, rw, tFloat},
	"PP_AGCFASTTIME":                              {17, 15, 1, rw, tFloat},
	"PP_AGCALPHAFASTGAIN":                         {17, 16, 1, rw, tFloat},
	"PP_AGCALPHASLOW":                             {17, 17, 1, rw, tFloat},
	"PP_AGCALPHAFAST":                             {17, 18, 1, rw, tFloat},
	"PP_LIMITONOFF":                               {17, 19, 1, rw, tInt32},
	"PP_LIMITPLIMIT":                              {17, 20, 1, rw, tFloat},
	"PP_MIN_NS":                                   {17, 21, 1, rw, tFloat},
	"PP_MIN_NN":                                   {17, 22, 1, rw, tFloat},
	"PP_ECHOONOFF":                                {17, 23, 1, rw, tInt32},
	"PP_GAMMA_E":                                  {17, 24, 1, rw, tFloat},
	"PP_GAMMA_ETAIL":                              {17, 25, 1, rw, tFloat},
	"PP_GAMMA_ENL":                                {17, 26, 1, rw, tFloat},
	"PP_NLATTENONOFF":                             {17, 27, 1, rw, tInt32},
	"PP_NLAEC_MODE":                               {17, 28, 1, rw, tInt32},
	"PP_MGSCALE":                                  {17, 29, 3, rw, tFloat},
	"PP_FMIN_SPEINDEX":                            {17, 30, 1, rw, tFloat},
	"PP_DTSENSITIVE":                              {17, 31, 1, rw, tInt32},
	"PP_ATTNS_MODE":                               {17, 32, 1, rw, tInt32},
	"PP_ATTNS_NOMINAL":                            {17, 33, 1, rw, tFloat},
	"PP_ATTNS_SLOPE":                              {17, 34, 1, rw, tFloat},
}
