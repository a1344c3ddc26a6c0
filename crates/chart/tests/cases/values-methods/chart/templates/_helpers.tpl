{{ define "types" }}{{ typeOf . }}{{ typeOf .Values }}{{ end }}
