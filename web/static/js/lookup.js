/*
 * Search-as-you-type for fields that refer to a register entry (qmsflow).
 *
 * Every input[data-register] inside a form[data-register-lookup] gets a <datalist> of the
 * entries matching what was typed (key, with the entry's title beside it), asked from the
 * register's lookup address (the form's data-register-lookup with REGISTER replaced by the
 * input's data-register). The server lists only entries of a register the user may read.
 * Without this script the input is a plain text box: type the key, the server checks it.
 *
 * When what was typed or picked is an entry's key and that entry has open cases, a warning
 * with links to them appears right after the input, before the form is sent (the server
 * lists only the cases the user may read, never the form's own case: data-case-number).
 * The warning is the server's sentence, in the user's language; sending the form still warns
 * as it does without this script.
 *
 * No dependencies and no build step.
 */
(function () {
  'use strict';

  var WAIT_MS = 200;

  function attach(form, input, index) {
    var list = document.createElement('datalist');
    list.id = 'register-lookup-' + index;
    input.setAttribute('list', list.id);
    input.parentNode.insertBefore(list, input.nextSibling);
    var address = form.getAttribute('data-register-lookup')
      .replace('REGISTER', encodeURIComponent(input.getAttribute('data-register')));
    var own = form.getAttribute('data-case-number');
    var timer = null;
    var asked = 0;
    var box = null;

    function warn(open) {
      if (box) {
        box.parentNode.removeChild(box);
        box = null;
      }
      if (!open || open.key !== input.value.trim() || !(open.cases || []).length) {
        return;
      }
      box = document.createElement('div');
      box.className = 'flash warning open-cases-live';
      box.setAttribute('role', 'status');
      box.setAttribute('data-live-open-cases', open.key);
      var sentence = document.createElement('p');
      sentence.textContent = open.warning;
      box.appendChild(sentence);
      var items = document.createElement('ul');
      open.cases.forEach(function (found) {
        var item = document.createElement('li');
        var link = document.createElement('a');
        link.href = found.url;
        link.textContent = found.number;
        item.appendChild(link);
        item.appendChild(document.createTextNode(' · ' + found.about));
        items.appendChild(item);
      });
      box.appendChild(items);
      list.parentNode.insertBefore(box, list.nextSibling);
    }

    function fill(entries) {
      while (list.firstChild) {
        list.removeChild(list.firstChild);
      }
      entries.forEach(function (entry) {
        var option = document.createElement('option');
        option.value = entry.key;
        option.label = entry.title ? entry.key + ' · ' + entry.title : entry.key;
        option.textContent = option.label;
        list.appendChild(option);
      });
    }

    function ask() {
      var query = input.value.trim();
      var mine = ++asked;
      if (!query) {
        fill([]);
        warn(null);
        return;
      }
      var url = address + (address.indexOf('?') < 0 ? '?' : '&') + 'q=' +
        encodeURIComponent(query) + (own ? '&case=' + encodeURIComponent(own) : '');
      fetch(url, { credentials: 'same-origin', headers: { Accept: 'application/json' } })
        .then(function (response) { return response.ok ? response.json() : { entries: [] }; })
        .then(function (data) {
          if (mine === asked) { // an older answer never replaces a newer one
            fill(data.entries || []);
            warn(data.open);
          }
        })
        .catch(function () { // offline: the input still takes a typed key
          fill([]);
          warn(null);
        });
    }

    input.addEventListener('input', function () {
      if (box && box.getAttribute('data-live-open-cases') !== input.value.trim()) {
        warn(null); // it spoke of another entry
      }
      clearTimeout(timer);
      timer = setTimeout(ask, WAIT_MS);
    });
  }

  function init() {
    var index = 0;
    document.querySelectorAll('form[data-register-lookup]').forEach(function (form) {
      form.querySelectorAll('input[data-register]').forEach(function (input) {
        attach(form, input, index++);
      });
    });
  }

  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', init);
  } else {
    init();
  }
}());
