;; A core module with no component-type section: its WIT world is unknown.
(module (func (export "run")))
