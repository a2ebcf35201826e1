module opendesk-render/bindings/go/opendeskrender

go 1.19
