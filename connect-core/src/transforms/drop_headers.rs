//! NOT YET WRITTEN: placeholder so the module tree compiles while it is being written.

use crate::plugin::PluginDescriptor;

pub(crate) fn plugins() -> Vec<PluginDescriptor> {
    Vec::new()
}
